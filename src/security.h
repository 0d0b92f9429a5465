/*-------------------------------------------------------------------------
 *
 * security.h
 *		Identities and target checks (see security.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_SECURITY_H
#define TRIBUTARY_SECURITY_H

#include "utils/acl.h"

/* an identity saved by tributary_catalog_enter */
typedef struct TributaryUserSave
{
	Oid			userid;
	int			sec;
	int			nestlevel;		/* GUC nest level of the pinned search_path, or -1 */
} TributaryUserSave;

/* job workers: the role their catalog statements run as */
extern Oid	tributary_catalog_role;

extern TributaryUserSave tributary_catalog_enter(void);
extern TributaryUserSave tributary_catalog_xact_begin(void);
extern void tributary_catalog_xact_end(TributaryUserSave us);
extern void tributary_catalog_leave(TributaryUserSave save);
extern void tributary_target_check(Oid relid, Oid owner, AclMode needed, const char *job_name);
extern void tributary_parse_type(const char *type, const char *schema, Oid *typid, int32 *typmod);

#endif							/* TRIBUTARY_SECURITY_H */
