/* test_loader.c - the batch loader: sample orders and rank splits,
 * determinism across thread counts, resume, layouts and dtypes, error
 * policies, ring-slot ownership. Datasets are packed in-test. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "pv_pack.h"
#include "pvpack.h"
#include "testutil.h"

#define N_IMAGES 61 /* prime: every batch size and world size leaves a tail */

typedef struct fixture {
  char *root, *src, *jpeg_ds, *raw_ds;
  pv_dataset *jpeg, *raw;
} fixture;

static char *pack(fixture *f, const char *name, int codec) {
  char *out = pvt_join(f->root, name);
  /* small shards: several of them */
  assert_int_equal(pvt_build_quiet(f->src, out, codec, 64 * 1024), PV_OK);
  return out;
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->root = pvt_mkdtemp("loader");
  f->src = pvt_join(f->root, "src");
  assert_int_equal(pvt_write_jpeg_tree(f->src, N_IMAGES, 5, 120, 200, 100, 220, 92), 0);
  f->jpeg_ds = pack(f, "jpeg.pvpack", PV_PACK_CODEC_JPEG);
  f->raw_ds = pack(f, "raw.pvpack", PV_PACK_CODEC_RAW);
  assert_int_equal(pv_dataset_open(f->jpeg_ds, NULL, &f->jpeg, NULL, 0), PV_OK);
  assert_int_equal(pv_dataset_open(f->raw_ds, NULL, &f->raw, NULL, 0), PV_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  pv_dataset_close(f->jpeg);
  pv_dataset_close(f->raw);
  pvt_rmrf(f->root);
  free(f->root);
  free(f->src);
  free(f->jpeg_ds);
  free(f->raw_ds);
  free(f);
  return 0;
}

static void base_opts(pv_loader_options *o) {
  pv_loader_options_init(o);
  o->batch_size = 8;
  o->height = 48;
  o->width = 40;
  o->threads = 2;
  o->rank = 0;
  o->world_size = 1;
}

static pv_loader *make(const pv_dataset *ds, const pv_loader_options *o) {
  pv_loader *l = NULL;
  char err[256] = "";
  pv_status st = pv_loader_create(ds, o, &l, err, sizeof err);
  if (st != PV_OK) fail_msg("pv_loader_create: %s: %s", pv_strerror(st), err);
  return l;
}

/* Hash of everything an epoch yields: images, labels, records. */
static uint64_t epoch_digest(pv_loader *l, uint64_t *batches, uint64_t *samples) {
  uint64_t h = 0;
  *batches = *samples = 0;
  for (;;) {
    pv_batch *b;
    pv_status st = pv_loader_next(l, &b);
    if (st != PV_OK) fail_msg("next: %s: %s", pv_strerror(st), pv_loader_last_error(l));
    if (!b) break;
    size_t per = b->images_bytes / b->batch_size;
    h ^= pv_checksum(b->images, per * b->count) + 0x9E3779B97F4A7C15ull * (*batches + 1);
    h ^= pv_checksum(b->labels, b->count * sizeof *b->labels) * 3;
    h ^= pv_checksum(b->records, b->count * sizeof *b->records) * 7;
    (*batches)++;
    *samples += b->count;
    pv_loader_release(l, b);
  }
  return h;
}

/* ---- orders and rank splits ---------------------------------------------- */

static void check_permutation(const pv_loader *l, uint64_t epoch, uint64_t n) {
  uint8_t *seen = calloc(n, 1);
  for (uint64_t k = 0; k < n; k++) {
    uint64_t r = pv_loader_sample_record(l, epoch, k);
    assert_true(r < n);
    assert_int_equal(seen[r], 0);
    seen[r] = 1;
  }
  assert_int_equal(pv_loader_sample_record(l, epoch, n), UINT64_MAX);
  free(seen);
}

static void test_orders_are_permutations(void **state) {
  fixture *f = *state;
  uint64_t n = pv_dataset_record_count(f->jpeg);
  for (int order = 0; order <= PV_ORDER_BLOCKS; order++) {
    pv_loader_options o;
    base_opts(&o);
    o.order = (pv_order)order;
    o.block_records = 4;
    o.block_group = 3;
    pv_loader *l = make(f->jpeg, &o);
    for (uint64_t e = 0; e < 4; e++) check_permutation(l, e, n);
    if (order == PV_ORDER_SEQUENTIAL) {
      for (uint64_t k = 0; k < n; k++) assert_int_equal(pv_loader_sample_record(l, 3, k), k);
    } else {
      /* A fresh order each epoch, and different seeds differ. */
      int diff = 0;
      for (uint64_t k = 0; k < n; k++)
        diff += pv_loader_sample_record(l, 0, k) != pv_loader_sample_record(l, 1, k);
      assert_true(diff > (int)n / 2);
    }
    if (order == PV_ORDER_BLOCKS) {
      /* Locality: positions [g*G*B, (g+1)*G*B - B) always lie inside
       * group g (only the one short block shifts group boundaries, by less
       * than B), and a group's records come from at most G blocks. */
      uint64_t B = o.block_records, gsz = B * o.block_group;
      for (uint64_t g0 = 0; g0 + gsz <= n; g0 += gsz) {
        uint64_t blocks[64];
        int nb = 0;
        for (uint64_t k = g0; k < g0 + gsz - B; k++) {
          uint64_t blk = pv_loader_sample_record(l, 2, k) / B;
          int found = 0;
          for (int i = 0; i < nb; i++) found |= blocks[i] == blk;
          if (!found) blocks[nb++] = blk;
        }
        assert_true(nb <= (int)o.block_group);
      }
    }
    pv_loader_destroy(l);
  }
}

static void test_rank_split(void **state) {
  fixture *f = *state;
  uint64_t n = pv_dataset_record_count(f->jpeg);
  for (int order = 0; order <= PV_ORDER_BLOCKS; order++)
    for (int world = 1; world <= 4; world++)
      for (int drop = 0; drop <= 1; drop++) {
        uint32_t *count = calloc(n, sizeof *count);
        uint64_t per_rank = 0;
        for (int r = 0; r < world; r++) {
          pv_loader_options o;
          base_opts(&o);
          o.order = (pv_order)order;
          o.block_records = 5;
          o.block_group = 2;
          o.rank = r;
          o.world_size = world;
          o.rank_drop = drop;
          pv_loader *l = make(f->jpeg, &o);
          uint64_t s = pv_loader_samples_per_epoch(l);
          if (r == 0) per_rank = s;
          assert_int_equal(s, per_rank); /* every rank the same count */
          assert_int_equal(s, drop ? n / (uint64_t)world : (n + (uint64_t)world - 1) / (uint64_t)world);
          for (uint64_t k = 0; k < s; k++) count[pv_loader_sample_record(l, 5, k)]++;
          pv_loader_destroy(l);
        }
        uint64_t covered = 0, dup = 0;
        for (uint64_t i = 0; i < n; i++) {
          covered += count[i] > 0;
          dup += count[i] > 1 ? count[i] - 1 : 0;
        }
        if (drop) {
          assert_int_equal(dup, 0); /* disjoint */
          assert_int_equal(covered, per_rank * (uint64_t)world);
        } else {
          assert_int_equal(covered, n); /* covering */
          assert_int_equal(dup, per_rank * (uint64_t)world - n); /* only the padding repeats */
        }
        free(count);
      }
}

/* rank_unrepeated: every record exactly once across the ranks, rank r at
 * global positions r, r + W, ... (Lightning's UnrepeatedDistributedSampler),
 * counts differing by at most one; refused with rank_drop. */
static void test_rank_unrepeated(void **state) {
  fixture *f = *state;
  uint64_t n = pv_dataset_record_count(f->jpeg);
  for (int order = 0; order <= PV_ORDER_BLOCKS; order++)
    for (int world = 1; world <= 5; world++) {
      uint32_t *count = calloc(n, sizeof *count);
      uint64_t total = 0;
      pv_loader_options o;
      base_opts(&o);
      o.order = (pv_order)order;
      o.block_records = 5;
      o.block_group = 2;
      o.world_size = world;
      o.rank = 0;
      pv_loader *full = make(f->jpeg, &o); /* world ranks' positions, padded */
      for (int r = 0; r < world; r++) {
        o.rank = r;
        o.rank_unrepeated = 1;
        pv_loader *l = make(f->jpeg, &o);
        uint64_t s = pv_loader_samples_per_epoch(l);
        assert_int_equal(s, (n - (uint64_t)r + (uint64_t)world - 1) / (uint64_t)world);
        for (uint64_t k = 0; k < s; k++) {
          uint64_t rec = pv_loader_sample_record(l, 3, k);
          count[rec]++;
          /* the padded split's sample at the same position, minus the padding */
          if (r == 0) assert_int_equal(rec, pv_loader_sample_record(full, 3, k));
        }
        assert_int_equal(pv_loader_sample_record(l, 3, s), UINT64_MAX);
        total += s;
        pv_loader_destroy(l);
        o.rank_unrepeated = 0;
      }
      pv_loader_destroy(full);
      assert_int_equal(total, n);
      for (uint64_t i = 0; i < n; i++) assert_int_equal(count[i], 1);
      free(count);
    }
  pv_loader_options o;
  base_opts(&o);
  o.rank_unrepeated = 1;
  o.rank_drop = 1;
  char err[256] = "";
  assert_int_equal(pv_loader_options_check(&o, err, sizeof err), PV_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "rank_unrepeated"));
}

/* indices: the loader visits exactly that list (in order with SEQUENTIAL, a
 * permutation of it with SHUFFLE), copied at create; bad lists are refused. */
static void test_indices_subset(void **state) {
  fixture *f = *state;
  uint64_t n = pv_dataset_record_count(f->jpeg);
  uint64_t sub[6] = {n - 1, 2, 0, 2, 5, 1};
  pv_loader_options o;
  base_opts(&o);
  o.batch_size = 4;
  o.order = PV_ORDER_SEQUENTIAL;
  o.indices = sub;
  o.indices_count = 6;
  pv_loader *l = make(f->jpeg, &o);
  sub[0] = 0; /* copied: later changes do not matter */
  assert_int_equal(pv_loader_samples_per_epoch(l), 6);
  assert_int_equal(pv_loader_batches_per_epoch(l), 2);
  uint64_t want[6] = {n - 1, 2, 0, 2, 5, 1}, k = 0;
  pv_batch *b;
  while (pv_loader_next(l, &b) == PV_OK && b) {
    for (uint32_t i = 0; i < b->count; i++, k++) {
      assert_int_equal(b->records[i], want[k]);
      assert_int_equal(b->records[i], pv_loader_sample_record(l, 0, k));
    }
    pv_loader_release(l, b);
  }
  assert_int_equal(k, 6);
  pv_loader_destroy(l);
  sub[0] = n - 1;
  o.order = PV_ORDER_SHUFFLE;
  l = make(f->jpeg, &o);
  uint32_t seen[8] = {0};
  for (k = 0; k < 6; k++) {
    uint64_t r = pv_loader_sample_record(l, 1, k);
    for (int j = 0; j < 6; j++)
      if (want[j] == r) seen[j]++;
  }
  assert_int_equal(seen[0] + seen[2] + seen[4] + seen[5], 4); /* n-1, 0, 5, 1 once */
  assert_int_equal(seen[1], 2);                              /* 2 twice (listed twice) */
  pv_loader_destroy(l);
  pv_loader *bad = NULL;
  char err[256] = "";
  sub[3] = n; /* out of range */
  assert_int_equal(pv_loader_create(f->jpeg, &o, &bad, err, sizeof err), PV_ERR_INVALID_ARG);
  assert_non_null(strstr(err, "indices[3]"));
  assert_null(bad);
  o.indices_count = 0;
  assert_int_equal(pv_loader_create(f->jpeg, &o, &bad, err, sizeof err), PV_ERR_EMPTY);
  o.indices = NULL;
  o.indices_count = 3;
  assert_int_equal(pv_loader_create(f->jpeg, &o, &bad, err, sizeof err), PV_ERR_INVALID_ARG);
}

/* pv_loader_set_epoch_rest: world 3 hands out b batches on every rank, then
 * world 2 continues at first = b * batch_size * 3: together every record
 * once, plus the padding of the rest; each rest sample is the record of its
 * global position; the next epoch is a full one. */
static void test_epoch_rest(void **state) {
  fixture *f = *state;
  uint64_t n = pv_dataset_record_count(f->jpeg);
  uint32_t *count = calloc(n, sizeof *count);
  pv_loader_options o;
  base_opts(&o);
  o.batch_size = 2;
  o.world_size = 1;
  pv_loader *one = make(f->jpeg, &o); /* global order: world 1 */
  uint64_t first = 1 * 2 * 3;
  assert_true(first < n);
  for (int r = 0; r < 3; r++)
    for (uint64_t k = 0; k < 2; k++) count[pv_loader_sample_record(one, 4, k * 3 + (uint64_t)r)]++;
  uint64_t span = n - first, per = (span + 1) / 2, got = 0;
  for (int r = 0; r < 2; r++) {
    o.world_size = 2;
    o.rank = r;
    pv_loader *l = make(f->jpeg, &o);
    assert_int_equal(pv_loader_set_epoch_rest(l, 4, first, 0), PV_OK);
    assert_int_equal(pv_loader_epoch_batches(l), (per + 1) / 2);
    uint64_t k = 0;
    pv_batch *b;
    while (pv_loader_next(l, &b) == PV_OK && b) {
      for (uint32_t i = 0; i < b->count; i++, k++) {
        uint64_t q = first + (k * 2 + (uint64_t)r) % span;
        assert_int_equal(b->records[i], pv_loader_sample_record(one, 4, q));
        if (k * 2 + (uint64_t)r < span) count[b->records[i]]++;
      }
      pv_loader_release(l, b);
    }
    assert_int_equal(k, per);
    got += k;
    assert_int_equal(pv_loader_set_epoch(l, 5, 0), PV_OK); /* a full epoch again */
    assert_int_equal(pv_loader_epoch_batches(l), pv_loader_batches_per_epoch(l));
    assert_int_equal(pv_loader_set_epoch_rest(l, 4, n, 0), PV_ERR_INVALID_ARG);
    pv_loader_destroy(l);
  }
  assert_int_equal(got, 2 * per);
  for (uint64_t i = 0; i < n; i++) assert_int_equal(count[i], 1);
  pv_loader_destroy(one);
  free(count);
}

static void test_env_rank(void **state) {
  fixture *f = *state;
  setenv("RANK", "1", 1);
  setenv("WORLD_SIZE", "3", 1);
  pv_loader_options o;
  base_opts(&o);
  o.rank = -1;
  o.world_size = -1;
  pv_loader *l = make(f->jpeg, &o);
  o.rank = 1;
  o.world_size = 3;
  pv_loader *m = make(f->jpeg, &o);
  for (uint64_t k = 0; k < pv_loader_samples_per_epoch(l); k++)
    assert_int_equal(pv_loader_sample_record(l, 0, k), pv_loader_sample_record(m, 0, k));
  pv_loader_destroy(l);
  pv_loader_destroy(m);
  setenv("RANK", "3", 1);
  o.rank = -1;
  o.world_size = -1;
  pv_loader *bad = NULL;
  assert_int_equal(pv_loader_create(f->jpeg, &o, &bad, NULL, 0), PV_ERR_INVALID_ARG);
  unsetenv("RANK");
  unsetenv("WORLD_SIZE");
}

/* ---- determinism, resume --------------------------------------------------- */

static void test_deterministic_across_threads(void **state) {
  fixture *f = *state;
  const pv_dataset *sets[2] = {f->jpeg, f->raw};
  for (int d = 0; d < 2; d++)
    for (int pipe = 0; pipe <= PV_PIPELINE_NONE; pipe++) {
      uint64_t ref = 0, b0 = 0, s0 = 0;
      const int threads[] = {1, 2, 7, 32};
      for (int t = 0; t < 4; t++) {
        pv_loader_options o;
        base_opts(&o);
        o.pipeline = (pv_pipeline)pipe;
        o.eval_resize = 56;
        o.threads = threads[t];
        o.prefetch = (uint32_t)(1 + t);
        o.seed = 7;
        pv_loader *l = make(sets[d], &o);
        uint64_t b, s, h = epoch_digest(l, &b, &s);
        if (t == 0) {
          ref = h, b0 = b, s0 = s;
          assert_int_equal(b, pv_loader_batches_per_epoch(l));
          assert_int_equal(s, pv_loader_samples_per_epoch(l));
        } else {
          assert_int_equal(h, ref);
          assert_int_equal(b, b0);
          assert_int_equal(s, s0);
        }
        /* The next epoch differs (train: new order and new crops). */
        pv_loader_set_epoch(l, 1, 0);
        uint64_t h1 = epoch_digest(l, &b, &s);
        assert_int_not_equal(h1, ref);
        pv_loader_destroy(l);
      }
    }
}

/* No lock per record: 8 and 32 workers (more than this machine's cores)
 * claim runs of samples, at least 2 per round trip of the loader's lock
 * (pv_loader_stats.claims), and give the 1-thread loader's batches. */
static void test_workers_claim_runs(void **state) {
  fixture *f = *state;
  uint64_t ref = 0;
  const int threads[] = {1, 8, 32};
  for (int t = 0; t < 3; t++) {
    pv_loader_options o;
    base_opts(&o);
    o.batch_size = 64;
    o.prefetch = 4;
    o.threads = threads[t];
    o.seed = 3;
    pv_loader *l = make(f->raw, &o);
    uint64_t b, n, h = epoch_digest(l, &b, &n);
    if (t == 0) ref = h;
    assert_int_equal(h, ref);
    pv_loader_stats st;
    pv_loader_get_stats(l, &st);
    assert_int_equal(st.samples, n);
    assert_true(st.claims >= b);              /* at least one claim per batch */
    assert_true(st.claims * 2 <= st.samples); /* runs, not records */
    pv_loader_destroy(l);
  }
}

/* Batch contents: labels and records agree with the sample sequence, and a
 * train sample equals pv__sample_crop with the same draws. */
static void test_batch_contents(void **state) {
  fixture *f = *state;
  pv_loader_options o;
  base_opts(&o);
  o.seed = 11;
  o.epoch = 2;
  pv_loader *l = make(f->jpeg, &o);
  uint64_t k = 0;
  pv_batch *b;
  while (pv_loader_next(l, &b) == PV_OK && b) {
    assert_int_equal(b->epoch, 2);
    assert_int_equal(b->index, k / o.batch_size);
    for (uint32_t i = 0; i < b->count; i++, k++) {
      uint64_t rec = pv_loader_sample_record(l, 2, k);
      assert_int_equal(b->records[i], rec);
      pv_record r;
      assert_int_equal(pv_dataset_record(f->jpeg, rec, &r), PV_OK);
      assert_int_equal(b->labels[i], r.label);
    }
    pv_loader_release(l, b);
  }
  assert_int_equal(k, pv_dataset_record_count(f->jpeg));
  pv_loader_destroy(l);
}

static void test_resume(void **state) {
  fixture *f = *state;
  for (int order = 0; order <= PV_ORDER_BLOCKS; order++) {
    pv_loader_options o;
    base_opts(&o);
    o.order = (pv_order)order;
    o.seed = 99;
    o.epoch = 3;
    o.world_size = 2;
    o.rank = 1;
    o.drop_last = 1;
    pv_loader *full = make(f->jpeg, &o);
    uint64_t nb = pv_loader_batches_per_epoch(full);
    assert_true(nb >= 3);
    uint64_t *digests = calloc(nb, sizeof *digests);
    for (uint64_t i = 0; i < nb; i++) {
      pv_batch *b;
      assert_int_equal(pv_loader_next(full, &b), PV_OK);
      assert_non_null(b);
      assert_int_equal(b->count, o.batch_size); /* drop_last: only full batches */
      digests[i] = pv_checksum(b->images, b->images_bytes) ^ pv_checksum(b->labels, 8 * b->count);
      pv_loader_release(full, b);
    }
    pv_batch *end;
    assert_int_equal(pv_loader_next(full, &end), PV_OK);
    assert_null(end);
    for (uint64_t k = 1; k < nb; k++) {
      o.start_batch = k;
      pv_loader *l = make(f->jpeg, &o);
      for (uint64_t i = k; i < nb; i++) {
        pv_batch *b;
        assert_int_equal(pv_loader_next(l, &b), PV_OK);
        assert_non_null(b);
        assert_int_equal(b->index, i);
        assert_int_equal(pv_checksum(b->images, b->images_bytes) ^
                             pv_checksum(b->labels, 8 * b->count),
                         digests[i]);
        pv_loader_release(l, b);
      }
      pv_loader_destroy(l);
    }
    /* set_epoch(e, k) on a running loader gives the same. */
    pv_loader_set_epoch(full, 3, nb - 1);
    pv_batch *b;
    assert_int_equal(pv_loader_next(full, &b), PV_OK);
    assert_int_equal(pv_checksum(b->images, b->images_bytes) ^ pv_checksum(b->labels, 8 * b->count),
                     digests[nb - 1]);
    pv_loader_release(full, b);
    free(digests);
    pv_loader_destroy(full);
  }
}

/* ---- layouts and dtypes ----------------------------------------------------- */

static void test_layouts_and_dtypes(void **state) {
  fixture *f = *state;
  pv_loader_options o;
  base_opts(&o);
  o.seed = 5;
  o.threads = 3;
  pv_loader *ref = make(f->raw, &o);
  o.layout = PV_LAYOUT_NCHW;
  pv_loader *nchw = make(f->raw, &o);
  o.dtype = PV_DTYPE_FLOAT32;
  pv_loader *fnchw = make(f->raw, &o);
  o.layout = PV_LAYOUT_NHWC;
  pv_loader *fnhwc = make(f->raw, &o);
  size_t hw = (size_t)o.height * o.width;
  for (;;) {
    pv_batch *a, *b, *c, *d;
    assert_int_equal(pv_loader_next(ref, &a), PV_OK);
    assert_int_equal(pv_loader_next(nchw, &b), PV_OK);
    assert_int_equal(pv_loader_next(fnchw, &c), PV_OK);
    assert_int_equal(pv_loader_next(fnhwc, &d), PV_OK);
    if (!a) {
      assert_null(b);
      assert_null(c);
      assert_null(d);
      break;
    }
    assert_int_equal(b->layout, PV_LAYOUT_NCHW);
    assert_int_equal(c->dtype, PV_DTYPE_FLOAT32);
    for (uint32_t s = 0; s < a->count; s++) {
      const uint8_t *px = (const uint8_t *)a->images + s * hw * 3;
      const uint8_t *pc = (const uint8_t *)b->images + s * hw * 3;
      const float *fc = (const float *)c->images + s * hw * 3;
      const float *fh = (const float *)d->images + s * hw * 3;
      for (size_t i = 0; i < hw; i++)
        for (int ch = 0; ch < 3; ch++) {
          uint8_t v = px[3 * i + ch];
          assert_int_equal(pc[ch * hw + i], v);
          float want = ((float)v / 255.0f - o.mean[ch]) / o.std[ch];
          assert_true(fabsf(fc[ch * hw + i] - want) < 1e-5f);
          assert_true(fabsf(fh[3 * i + ch] - want) < 1e-5f);
        }
    }
    pv_loader_release(ref, a);
    pv_loader_release(nchw, b);
    pv_loader_release(fnchw, c);
    pv_loader_release(fnhwc, d);
  }
  pv_loader_destroy(ref);
  pv_loader_destroy(nchw);
  pv_loader_destroy(fnchw);
  pv_loader_destroy(fnhwc);
}

/* Eval and none pipelines produce exactly what the sampler produces. */
static void test_eval_matches_sampler(void **state) {
  fixture *f = *state;
  pv_loader_options o;
  base_opts(&o);
  o.pipeline = PV_PIPELINE_EVAL;
  o.eval_resize = 52;
  o.order = PV_ORDER_SEQUENTIAL;
  pv_loader *l = make(f->jpeg, &o);
  pv_sampler *s;
  assert_int_equal(pv__sampler_create(&s), PV_OK);
  size_t sz = (size_t)o.width * o.height * 3;
  uint8_t *want = malloc(sz);
  pv_batch *b;
  uint64_t k = 0;
  while (pv_loader_next(l, &b) == PV_OK && b) {
    for (uint32_t i = 0; i < b->count; i++, k++) {
      pv_record r;
      pv_dataset_record(f->jpeg, k, &r);
      assert_int_equal(pv__sample_eval(s, &r, 52, o.width, o.height, PV_FILTER_BILINEAR, want,
                                       (size_t)o.width * 3),
                       PV_OK);
      assert_memory_equal((uint8_t *)b->images + i * sz, want, sz);
    }
    pv_loader_release(l, b);
  }
  free(want);
  pv__sampler_destroy(s);
  pv_loader_destroy(l);
}

/* ---- ownership of ring slots ---------------------------------------------- */

static void test_held_batches(void **state) {
  fixture *f = *state;
  pv_loader_options o;
  base_opts(&o);
  o.prefetch = 3;
  pv_loader *l = make(f->jpeg, &o);
  pv_batch *held[3];
  for (int i = 0; i < 3; i++) {
    assert_int_equal(pv_loader_next(l, &held[i]), PV_OK);
    assert_non_null(held[i]);
  }
  /* Every buffer is with the caller: no deadlock, a clear status. */
  pv_batch *x;
  assert_int_equal(pv_loader_next(l, &x), PV_ERR_LIMIT);
  assert_non_null(strstr(pv_loader_last_error(l), "release"));
  /* Held batches keep their contents while later ones are produced. */
  uint64_t keep = pv_checksum(held[0]->images, held[0]->images_bytes);
  pv_loader_release(l, held[1]);
  assert_int_equal(pv_loader_next(l, &x), PV_OK);
  assert_int_equal(x->index, 3);
  assert_int_equal(pv_checksum(held[0]->images, held[0]->images_bytes), keep);
  pv_loader_release(l, x);
  pv_loader_release(l, held[2]);
  pv_loader_release(l, held[0]);
  uint64_t nb = 4;
  while (pv_loader_next(l, &x) == PV_OK && x) {
    nb++;
    pv_loader_release(l, x);
  }
  assert_int_equal(nb, pv_loader_batches_per_epoch(l));
  pv_loader_destroy(l);
}

/* A caller that keeps every batch (detaching each) gets the same bytes as
 * one that releases them, and the loader never runs out of buffers. */
static void test_detach_keeps_every_batch(void **state) {
  fixture *f = *state;
  pv_loader_options o;
  base_opts(&o);
  o.prefetch = 2;
  pv_loader *l = make(f->jpeg, &o);
  uint64_t nb = pv_loader_batches_per_epoch(l);
  uint64_t *want = calloc(nb, sizeof *want);
  pv_batch *b;
  for (uint64_t i = 0; pv_loader_next(l, &b) == PV_OK && b; i++) {
    want[i] = pv_checksum(b->images, b->images_bytes / b->batch_size * b->count);
    pv_loader_release(l, b);
  }
  pv_loader_set_epoch(l, 0, 0);
  void **kept = calloc(nb, sizeof *kept);
  size_t per = 0;
  uint32_t last_count = 0;
  for (uint64_t i = 0; i < nb; i++) {
    assert_int_equal(pv_loader_next(l, &b), PV_OK);
    assert_non_null(b);
    assert_int_equal(b->index, i);
    per = b->images_bytes / b->batch_size;
    last_count = b->count;
    void *old = b->images;
    assert_int_equal(pv_loader_detach(l, b, &kept[i]), PV_OK);
    assert_ptr_equal(kept[i], old);
    /* The batch went back with the detach: a second detach is refused. */
    void *again = NULL;
    assert_int_equal(pv_loader_detach(l, b, &again), PV_ERR_INVALID_ARG);
    assert_null(again);
  }
  assert_int_equal(pv_loader_next(l, &b), PV_OK);
  assert_null(b);
  for (uint64_t i = 0; i < nb; i++)
    assert_int_equal(pv_checksum(kept[i], per * (i + 1 == nb ? last_count : o.batch_size)),
                     want[i]);
  for (uint64_t i = 0; i < nb; i++) pv_loader_free_detached(l, kept[i]);
  pv_loader_free_detached(l, NULL);
  /* Not handed out: refused. */
  void *x = NULL;
  assert_int_equal(pv_loader_detach(l, NULL, &x), PV_ERR_INVALID_ARG);
  free(kept);
  free(want);
  pv_loader_destroy(l);
}

/* pv_loader_wait reports when pv_loader_next will not block: a ready
 * batch, every buffer held, the end of the epoch. */
static void test_wait(void **state) {
  fixture *f = *state;
  pv_loader_options o;
  base_opts(&o);
  o.prefetch = 2;
  pv_loader *l = make(f->jpeg, &o);
  pv_batch *b[2];
  for (int i = 0; i < 2; i++) {
    assert_true(pv_loader_wait(l, 60000));
    assert_int_equal(pv_loader_next(l, &b[i]), PV_OK);
    assert_non_null(b[i]);
  }
  /* Both buffers are with the caller: ready at once, and next says why. */
  assert_true(pv_loader_wait(l, 0));
  pv_batch *x;
  assert_int_equal(pv_loader_next(l, &x), PV_ERR_LIMIT);
  pv_loader_release(l, b[0]);
  pv_loader_release(l, b[1]);
  uint64_t n = 2;
  for (;;) {
    while (!pv_loader_wait(l, 1)) {
    }
    assert_int_equal(pv_loader_next(l, &x), PV_OK);
    if (!x) break;
    n++;
    pv_loader_release(l, x);
  }
  assert_int_equal(n, pv_loader_batches_per_epoch(l));
  assert_true(pv_loader_wait(l, 0)); /* end of epoch */
  pv_loader_stats st;
  pv_loader_get_stats(l, &st);
  assert_true(st.wait_s >= 0);
  pv_loader_destroy(l);
}

/* ---- damaged records ----------------------------------------------------- */

static void test_corrupt_record_policies(void **state) {
  fixture *f = *state;
  /* A private copy of the jpeg dataset with one payload byte flipped. */
  char *dir = pack(f, "damaged.pvpack", PV_PACK_CODEC_JPEG);
  pv_dataset *ds;
  assert_int_equal(pv_dataset_open(dir, NULL, &ds, NULL, 0), PV_OK);
  pv_record r;
  pv_dataset_record(ds, 5, &r);
  uint64_t off = (uint64_t)(r.data - pv_dataset_shard_view(ds, r.shard)->file) + r.length / 2;
  uint32_t shard = r.shard;
  pv_dataset_close(ds);
  char name[64];
  snprintf(name, sizeof name, "shard-%05u.pvs", shard);
  char *path = pvt_join(dir, name);
  size_t n;
  uint8_t *bytes = pvt_read_file(path, &n);
  bytes[off] ^= 0x55;
  assert_int_equal(pvt_write_file(path, bytes, n), 0);
  free(bytes);
  assert_int_equal(pv_dataset_open(dir, NULL, &ds, NULL, 0), PV_OK);

  pv_loader_options o;
  base_opts(&o);
  o.order = PV_ORDER_SEQUENTIAL;
  o.verify_checksums = 1;
  pv_loader *l = make(ds, &o);
  pv_batch *b;
  assert_int_equal(pv_loader_next(l, &b), PV_ERR_CHECKSUM); /* batch 0 holds record 5 */
  assert_null(b);
  const char *msg = pv_loader_last_error(l);
  assert_non_null(strstr(msg, name));
  assert_non_null(strstr(msg, "record 5"));
  assert_non_null(strstr(msg, "class"));
  /* The loader goes on after a failed batch. */
  assert_int_equal(pv_loader_next(l, &b), PV_OK);
  assert_int_equal(b->index, 1);
  pv_loader_release(l, b);
  pv_loader_destroy(l);

  o.on_error = PV_ON_ERROR_REPLACE;
  uint64_t h[2];
  for (int t = 0; t < 2; t++) {
    o.threads = 1 + 3 * t;
    l = make(ds, &o);
    assert_int_equal(pv_loader_next(l, &b), PV_OK);
    assert_int_equal(b->replaced, 1);
    assert_int_equal(b->records[5], 6); /* replaced by the next record */
    h[t] = pv_checksum(b->images, b->images_bytes);
    pv_loader_release(l, b);
    pv_loader_stats st;
    pv_loader_get_stats(l, &st);
    assert_int_equal(st.replaced, 1);
    pv_loader_destroy(l);
  }
  assert_int_equal(h[0], h[1]);
  pv_dataset_close(ds);
  free(path);
  pvt_rmrf(dir);
  free(dir);
}

static void test_bad_options(void **state) {
  fixture *f = *state;
  pv_loader_options o;
  pv_loader *l = NULL;
  char err[256];
  base_opts(&o);
  o.batch_size = 0;
  assert_int_equal(pv_loader_create(f->jpeg, &o, &l, err, sizeof err), PV_ERR_INVALID_ARG);
  base_opts(&o);
  o.scale_min = 0.9;
  o.scale_max = 0.5;
  assert_int_equal(pv_loader_create(f->jpeg, &o, &l, err, sizeof err), PV_ERR_INVALID_ARG);
  base_opts(&o);
  o.rank = 2;
  o.world_size = 2;
  assert_int_equal(pv_loader_create(f->jpeg, &o, &l, err, sizeof err), PV_ERR_INVALID_ARG);
  base_opts(&o);
  o.batch_size = 1000;
  o.drop_last = 1;
  assert_int_equal(pv_loader_create(f->jpeg, &o, &l, err, sizeof err), PV_ERR_EMPTY);
  base_opts(&o);
  o.size = 3;
  assert_int_equal(pv_loader_create(f->jpeg, &o, &l, err, sizeof err), PV_ERR_INVALID_ARG);
  assert_null(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_orders_are_permutations),
      cmocka_unit_test(test_rank_split),
      cmocka_unit_test(test_rank_unrepeated),
      cmocka_unit_test(test_indices_subset),
      cmocka_unit_test(test_epoch_rest),
      cmocka_unit_test(test_env_rank),
      cmocka_unit_test(test_deterministic_across_threads),
      cmocka_unit_test(test_workers_claim_runs),
      cmocka_unit_test(test_batch_contents),
      cmocka_unit_test(test_resume),
      cmocka_unit_test(test_layouts_and_dtypes),
      cmocka_unit_test(test_eval_matches_sampler),
      cmocka_unit_test(test_held_batches),
      cmocka_unit_test(test_detach_keeps_every_batch),
      cmocka_unit_test(test_wait),
      cmocka_unit_test(test_corrupt_record_policies),
      cmocka_unit_test(test_bad_options),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
