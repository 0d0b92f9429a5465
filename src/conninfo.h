/*-------------------------------------------------------------------------
 *
 * conninfo.h
 *		Source connection strings (see conninfo.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_CONNINFO_H
#define TRIBUTARY_CONNINFO_H

#include "libpq-fe.h"

extern PQconninfoOption *tributary_conninfo_parse(const char *conninfo, const char *kind);
extern const char *tributary_conninfo_get(PQconninfoOption *opts, const char *key);
extern char *tributary_conninfo_masked(const char *conninfo);
extern bool tributary_conninfo_is_secret(const char *key);

#endif							/* TRIBUTARY_CONNINFO_H */
