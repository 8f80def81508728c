/* jpeg_dec.c - the reader's one libjpeg set-up (see jpeg_dec.h). */
#include "jpeg_dec.h"

#include <string.h>

#include <jerror.h>

static void on_error(j_common_ptr c) {
  pv_jdec_err *e = (pv_jdec_err *)c->err;
  (*c->err->format_message)(c, e->msg);
  longjmp(e->jb, 1);
}

/* A warning (level -1: corrupt data, premature end of data) is an error, as
 * TJFLAG_STOPONWARNING: never hand out grey blocks. Trace messages are
 * ignored. */
static void on_message(j_common_ptr c, int level) {
  if (level < 0) on_error(c);
}

static void on_output(j_common_ptr c) { (void)c; }

/* Called by libjpeg between units of work: after each iMCU row or marker
 * while jpeg_start_decompress reads a multi-scan file's scans, and on every
 * jpeg_read_scanlines call. Cheap: two loads and a compare. */
static void on_progress(j_common_ptr c) {
  pv_jdec *j = c->client_data;
  if (!j || !c->is_decompressor) return;
  if (j->cancel && j->cancel(j->cancel_ctx)) {
    j->stop = PV_ERR_CANCELLED;
    snprintf(j->err.msg, sizeof j->err.msg, "decode cancelled");
    longjmp(j->err.jb, 1);
  }
  const j_decompress_ptr ci = (j_decompress_ptr)c;
  if (j->limits && pv__limit_jpeg_scans(j->limits, (uint64_t)ci->input_scan_number, j->err.msg,
                                        sizeof j->err.msg) != PV_OK) {
    j->stop = PV_ERR_LIMIT;
    longjmp(j->err.jb, 1);
  }
}

pv_status pv__jdec_create(pv_jdec *j) {
  memset(j, 0, sizeof *j);
  j->ci.err = jpeg_std_error(&j->err.pub);
  j->err.pub.error_exit = on_error;
  j->err.pub.emit_message = on_message;
  j->err.pub.output_message = on_output;
  /* Creating the object can itself fail (out of memory) through
   * error_exit. */
  if (setjmp(j->err.jb)) return PV_ERR_NOMEM;
  jpeg_create_decompress(&j->ci);
  j->created = 1;
  j->progress.progress_monitor = on_progress;
  j->ci.progress = &j->progress;
  j->ci.client_data = j;
  return PV_OK;
}

void pv__jdec_destroy(pv_jdec *j) {
  if (j && j->created) jpeg_destroy_decompress(&j->ci);
  if (j) j->created = 0;
}

void pv__jpeg_facts_of(const struct jpeg_decompress_struct *ci, pv_jpeg_facts *f) {
  memset(f, 0, sizeof *f);
  f->width = ci->image_width;
  f->height = ci->image_height;
  f->components = ci->num_components > PV_JPEG_MAX_COMPONENTS ? PV_JPEG_MAX_COMPONENTS
                                                                : ci->num_components;
  for (int c = 0; c < f->components; c++) {
    f->h_samp[c] = (uint8_t)ci->comp_info[c].h_samp_factor;
    f->v_samp[c] = (uint8_t)ci->comp_info[c].v_samp_factor;
  }
  f->progressive = ci->progressive_mode != 0;
  /* jdinput.c's has_multiple_scans, from the first scan's header. */
  f->multi_scan = ci->progressive_mode || ci->comps_in_scan < ci->num_components;
}

void pv__jdec_source(pv_jdec *j, const pv_limits *L, const uint8_t *src, size_t len) {
  j->limits = L;
  j->stop = PV_OK;
  /* libjpeg's accounting refuses (JERR_NO_BACKING_STORE) whole-image
   * buffers beyond this; set for every image, after anything (such as
   * $JPEGMEM at creation) could have changed it. */
  j->ci.mem->max_memory_to_use = pv__jpeg_max_memory_to_use(L);
  jpeg_mem_src(&j->ci, src, (unsigned long)len);
}

pv_status pv__jdec_read_header(pv_jdec *j, const pv_limits *L, const uint8_t *src, size_t len,
                               const pv_jpeg_facts *facts, const uint8_t *scan_src,
                               size_t scan_len, char *msg, size_t cap) {
  j_decompress_ptr ci = &j->ci;
  pv__jdec_source(j, L, src, len);
  jpeg_read_header(ci, TRUE);
  pv_jpeg_facts own;
  if (!facts) {
    pv__jpeg_facts_of(&j->ci, &own);
    facts = &own;
  }
  pv_status st = pv__limit_jpeg_header(L, facts, scan_src ? scan_src : src,
                                       scan_src ? scan_len : len, msg, cap);
  if (st != PV_OK) return st;
  /* TurboJPEG's defaults (tjDecompress2 without flags): accurate integer
   * IDCT and fancy upsampling. Gray and YCbCr both convert to RGB. */
  ci->out_color_space = JCS_RGB;
  ci->dct_method = JDCT_ISLOW;
  ci->do_fancy_upsampling = TRUE;
  return PV_OK;
}

pv_status pv__jdec_error(const pv_jdec *j, char *msg, size_t cap) {
  if (j->stop != PV_OK) {
    snprintf(msg, cap, "%s", j->err.msg);
    return j->stop;
  }
  if (j->err.pub.msg_code == JERR_NO_BACKING_STORE) {
    snprintf(msg, cap, "JPEG %ux%u needs more decoder memory than max_decoder_memory %llu MiB",
             (unsigned)j->ci.image_width, (unsigned)j->ci.image_height,
             (unsigned long long)((j->limits ? j->limits->max_decoder_memory : 0) >> 20));
    return PV_ERR_LIMIT;
  }
  snprintf(msg, cap, "JPEG: %s", j->err.msg);
  return j->err.pub.msg_code == JERR_OUT_OF_MEMORY ? PV_ERR_NOMEM : PV_ERR_DECODE;
}
