/* train_loop.c - a minimal C training-loop skeleton over the pvpack loader.
 *
 *   cc train_loop.c $(pkg-config --cflags --libs pvpack) -o train_loop
 *   ./train_loop /data/train.pvpack [epochs] [resume_epoch resume_batch]
 *
 * Where a real program runs its forward/backward pass, this one computes a
 * per-batch mean pixel value so the data is really read. Checkpointing is
 * just (epoch, next batch): a loader created at that point yields exactly
 * what the uninterrupted run would have yielded (pv_loader_options.epoch
 * and .start_batch). RANK and WORLD_SIZE from the environment split the
 * data like torch's DistributedSampler. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <pvpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s DATASET_DIR [epochs] [resume_epoch resume_batch]\n", argv[0]);
    return 2;
  }
  int epochs = argc > 2 ? atoi(argv[2]) : 1;
  pv_dataset *ds;
  char err[512];
  pv_status st = pv_dataset_open(argv[1], NULL, &ds, err, sizeof err);
  if (st != PV_OK) {
    fprintf(stderr, "open: %s: %s\n", pv_strerror(st), err);
    return 1;
  }
  pv_loader_options o;
  pv_loader_options_init(&o);
  o.batch_size = 64;
  o.height = o.width = 224;
  o.pipeline = PV_PIPELINE_TRAIN;
  o.seed = 1234;
  if (argc > 4) {
    o.epoch = strtoull(argv[3], NULL, 10);
    o.start_batch = strtoull(argv[4], NULL, 10);
  }
  pv_loader *l;
  if ((st = pv_loader_create(ds, &o, &l, err, sizeof err)) != PV_OK) {
    fprintf(stderr, "loader: %s: %s\n", pv_strerror(st), err);
    pv_dataset_close(ds);
    return 1;
  }
  printf("%llu records, %u classes, %llu batches per epoch on this rank\n",
         (unsigned long long)pv_dataset_record_count(ds), pv_dataset_class_count(ds),
         (unsigned long long)pv_loader_batches_per_epoch(l));
  int rc = 0;
  for (uint64_t e = o.epoch; e < (uint64_t)epochs && rc == 0; e++) {
    if (e != o.epoch) pv_loader_set_epoch(l, e, 0);
    double t0 = now_s(), acc = 0;
    uint64_t images = 0;
    for (;;) {
      pv_batch *b;
      if ((st = pv_loader_next(l, &b)) != PV_OK) {
        fprintf(stderr, "epoch %llu: %s\n", (unsigned long long)e, pv_loader_last_error(l));
        rc = 1;
        break;
      }
      if (!b) break; /* end of epoch */
      /* "training step": read every byte of the batch */
      const unsigned char *px = b->images;
      size_t n = (size_t)b->count * b->height * b->width * 3;
      unsigned long long sum = 0;
      for (size_t i = 0; i < n; i++) sum += px[i];
      acc += (double)sum / (double)n;
      images += b->count;
      /* checkpoint = (e, b->index + 1) */
      pv_loader_release(l, b);
    }
    double el = now_s() - t0;
    printf("epoch %llu: %llu images, %.0f images/s, mean pixel %.2f\n", (unsigned long long)e,
           (unsigned long long)images, el > 0 ? images / el : 0.0,
           acc / (double)(pv_loader_batches_per_epoch(l) ? pv_loader_batches_per_epoch(l) : 1));
  }
  pv_loader_destroy(l);
  pv_dataset_close(ds);
  return rc;
}
