/* status.c - messages for pv_status, generated from PV_STATUS_MAP. */
#include "pv_status.h"

const char *pv_strerror(int status) {
  switch (status) {
#define PV__STATUS_MSG(name, value, msg) \
  case (value):                          \
    return msg;
    PV_STATUS_MAP(PV__STATUS_MSG)
#undef PV__STATUS_MSG
  }
  return "unknown status";
}

const char *pv_status_name(int status) {
  switch (status) {
#define PV__STATUS_NAME(name, value, msg) \
  case (value):                           \
    return #name;
    PV_STATUS_MAP(PV__STATUS_NAME)
#undef PV__STATUS_NAME
  }
  return "PV_UNKNOWN";
}
