/* escape.h - printing untrusted strings (class names, source paths, reasons
 * that quote them) so that nothing reaches a terminal or a parser raw
 * (internal to platform/, used by reader/'s verify and programs/).
 *
 * Both forms keep printable ASCII and valid UTF-8 as they are, except the
 * code points that steer a terminal or a text's layout: C1 controls
 * (U+0080..U+009F), U+2028/U+2029 line and paragraph separators, and the
 * bidirectional marks and overrides (U+200E, U+200F, U+202A..U+202E,
 * U+2066..U+2069). Depends on: libc. Thread-safety: reentrant.
 */
#ifndef PV_ESCAPE_H
#define PV_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

/* Text form, C-style: backslash as \\, \n \r \t, other control bytes and
 * bytes that are not valid UTF-8 as \xNN, the code points above as \uXXXX.
 * One line whatever s holds. */
void pv__put_escaped(FILE *f, const char *s, size_t n);

/* The same into a malloc'ed NUL-terminated string (NULL when out of
 * memory). */
char *pv__escaped(const char *s, size_t n);

/* A JSON string literal with its quotes (RFC 8259): " and \ escaped,
 * control characters and the code points above as \uXXXX (\n \r \t \b \f
 * short), and every byte that is not valid UTF-8 as U+FFFD, so the output
 * is always valid UTF-8 JSON. */
void pv__put_json_string(FILE *f, const char *s, size_t n);

#endif
