/* read_dataset.c - the smallest program that uses an installed libpvpack:
 * open a dataset, print its classes, decode every record once.
 *
 *   cc read_dataset.c $(pkg-config --cflags --libs pvpack) -o read_dataset
 *   ./read_dataset /data/train.pvpack
 */
#include <pvpack.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DATASET_DIR\n", argv[0]);
    return 2;
  }
  pv_dataset *ds;
  char err[512];
  pv_status st = pv_dataset_open(argv[1], NULL, &ds, err, sizeof err);
  if (st != PV_OK) {
    fprintf(stderr, "%s: %s\n", pv_strerror(st), err);
    return 1;
  }
  printf("%llu records, %u classes\n", (unsigned long long)pv_dataset_record_count(ds),
         pv_dataset_class_count(ds));
  pv_decoder *dec;
  if (pv_decoder_create(&dec) != PV_OK) return 1;
  int rc = 0;
  for (uint64_t i = 0; i < pv_dataset_record_count(ds); i++) {
    pv_record r;
    pv_dataset_record(ds, i, &r);
    size_t n = (size_t)r.width * r.height * 3;
    unsigned char *px = malloc(n);
    if (!px || pv_decoder_decode(dec, &r, px, (size_t)r.width * 3, n) != PV_OK) {
      fprintf(stderr, "record %llu: %s\n", (unsigned long long)i, pv_decoder_last_error(dec));
      rc = 1;
    }
    free(px);
  }
  printf("decoded all records: %s\n", rc ? "FAILED" : "ok");
  pv_decoder_destroy(dec);
  pv_dataset_close(ds);
  return rc;
}
