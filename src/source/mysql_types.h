/*-------------------------------------------------------------------------
 *
 * mysql_types.h
 *		MySQL column types and their PostgreSQL counterparts (DESIGN §5).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_MYSQL_TYPES_H
#define TRIBUTARY_MYSQL_TYPES_H

extern char *tributary_mysql_pg_type(const char *data_type, const char *column_type,
									 long char_len, int num_precision, int num_scale,
									 int datetime_precision);

#endif							/* TRIBUTARY_MYSQL_TYPES_H */
