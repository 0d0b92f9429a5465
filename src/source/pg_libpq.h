/*-------------------------------------------------------------------------
 *
 * pg_libpq.h
 *		Interruptible libpq calls for backends and background workers
 *		(see pg_libpq.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_PG_LIBPQ_H
#define TRIBUTARY_PG_LIBPQ_H

#include "libpq-fe.h"

extern PGconn *tributary_pq_connect(const char *conninfo, const char *appname,
									bool replication, int timeout_s, char **err);
extern PGresult *tributary_pq_exec(PGconn *conn, const char *sql, int nparams,
								   const char *const *params, int timeout_ms);
extern PGresult *tributary_pq_exec_replication(PGconn *conn, const char *sql, int timeout_ms);
extern void tributary_pq_raise(PGconn *conn, PGresult *res, const char *source_name,
							   const char *what) pg_attribute_noreturn();
extern void tributary_pq_wait_readable(PGconn *conn);
extern PGresult *tributary_pq_query(PGconn *conn, const char *source_name, const char *sql,
									int nparams, const char *const *params);

#endif							/* TRIBUTARY_PG_LIBPQ_H */
