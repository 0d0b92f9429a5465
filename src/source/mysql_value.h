/*-------------------------------------------------------------------------
 *
 * mysql_value.h
 *		MySQL values as PostgreSQL reads them: the one place both MySQL
 *		paths (snapshot: mysql_snapshot.c; binlog: binlog_rows.c and
 *		mysql_stream.c) take their value rules from.
 *
 * mysql_value.c holds the pure renderings (also built into the fuzzers);
 * mysql_convert.c the backend policies: charset conversion to the target
 * database's encoding and the job's zero_date option.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_MYSQL_VALUE_H
#define TRIBUTARY_MYSQL_VALUE_H

#include "lib/stringinfo.h"

/* mysql_value.c */
extern void myv_bytea(StringInfo out, const uint8 *p, size_t len, size_t pad, bool copy_text);
extern void myv_bits(StringInfo out, const uint8 *p, size_t len, int nbits);
extern bool myv_geometry_wkb(const uint8 *p, size_t len, const uint8 **wkb, size_t *wkb_len);
extern bool myv_is_zero_date(const char *text, size_t len);

#ifndef FRONTEND
/* mysql_convert.c */
extern int	myv_charset_encoding(const char *charset);
extern void myv_prepare_conversion(int encoding);
extern const char *myv_to_database(const char *data, size_t len, int encoding, size_t *out_len,
								   const char *column, const char *table);
extern const char *myv_zero_date(const char *zero_date, const char *text, size_t len,
								 const char *column, const char *table, const char *where);
#endif

#endif							/* TRIBUTARY_MYSQL_VALUE_H */
