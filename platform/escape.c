/* escape.c - see escape.h. */
#include "escape.h"

#include <stdint.h>
#include <stdlib.h>

/* Length (2..4) of the valid UTF-8 sequence at s, with its code point in
 * *cp; 0 when s[0] does not start one (overlong forms, surrogates and
 * values above U+10FFFF are invalid, as in RFC 3629). */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp) {
  unsigned char c = s[0];
  size_t len;
  uint32_t v;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) len = 2, v = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) {
    len = 3, v = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, v = c & 0x07;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else
    return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    unsigned char b = s[i];
    if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF)) return 0;
    v = (v << 6) | (b & 0x3F);
  }
  *cp = v;
  return len;
}

/* Code points that change how a terminal or a line of text behaves. */
static int steers_layout(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 || cp == 0x200E ||
         cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

void pv__put_escaped(FILE *f, const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  for (size_t i = 0; i < n;) {
    unsigned char c = s[i];
    if (c >= 0x20 && c < 0x7F) {
      if (c == '\\') fputs("\\\\", f);
      else fputc(c, f);
      i++;
    } else if (c < 0x80) {
      if (c == '\n') fputs("\\n", f);
      else if (c == '\r') fputs("\\r", f);
      else if (c == '\t') fputs("\\t", f);
      else fprintf(f, "\\x%02x", c);
      i++;
    } else {
      uint32_t cp;
      size_t len = utf8_seq(s + i, n - i, &cp);
      if (!len) {
        fprintf(f, "\\x%02x", c);
        i++;
      } else {
        if (steers_layout(cp)) fprintf(f, "\\u%04x", (unsigned)cp);
        else fwrite(s + i, 1, len, f);
        i += len;
      }
    }
  }
}

char *pv__escaped(const char *s, size_t n) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  if (!f) return NULL;
  pv__put_escaped(f, s, n);
  if (fclose(f) != 0) {
    free(out);
    return NULL;
  }
  return out;
}

void pv__put_json_string(FILE *f, const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  fputc('"', f);
  for (size_t i = 0; i < n;) {
    unsigned char c = s[i];
    if (c >= 0x20 && c < 0x7F) {
      if (c == '"' || c == '\\') fputc('\\', f);
      fputc(c, f);
      i++;
    } else if (c < 0x80) {
      if (c == '\n') fputs("\\n", f);
      else if (c == '\r') fputs("\\r", f);
      else if (c == '\t') fputs("\\t", f);
      else if (c == '\b') fputs("\\b", f);
      else if (c == '\f') fputs("\\f", f);
      else fprintf(f, "\\u%04x", c);
      i++;
    } else {
      uint32_t cp;
      size_t len = utf8_seq(s + i, n - i, &cp);
      if (!len) {
        fputs("\\ufffd", f);
        i++;
      } else {
        if (steers_layout(cp)) fprintf(f, "\\u%04x", (unsigned)cp);
        else fwrite(s + i, 1, len, f);
        i += len;
      }
    }
  }
  fputc('"', f);
}
