/*-------------------------------------------------------------------------
 *
 * mysql_io.h
 *		Interruptible MySQL client calls (see mysql_io.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_MYSQL_IO_H
#define TRIBUTARY_MYSQL_IO_H

#include "source/mysql_include.h"

extern void myio_prepare(MYSQL *conn, bool no_read_timeout);
extern bool myio_connect(MYSQL *conn, const char *host, const char *user, const char *password,
						 const char *dbname, unsigned int port);
extern int	myio_query(MYSQL *conn, const char *sql, size_t len);
extern MYSQL_RES *myio_store_result(MYSQL *conn);
extern MYSQL_ROW myio_fetch_row(MYSQL_RES *res);
extern bool myio_buffered(MYSQL *conn);

#endif							/* TRIBUTARY_MYSQL_IO_H */
