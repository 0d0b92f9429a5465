/*-------------------------------------------------------------------------
 *
 * security.c
 *		Who may do what: the SQL API's entry point, the identity the job
 *		worker uses for the catalog and for targets, and the checks of a
 *		target table before a job writes it.
 *
 * The API (tributary.add_table, ...) is a set of C functions that all
 * land in tributary_api: it notes the calling role and calls the
 * function's body, tributary._api_<name>, a SECURITY DEFINER function
 * (search_path pg_catalog, pg_temp) that only the extension's owner may
 * execute.  Bodies read the caller with tributary._api_caller() and check
 * ownership against it; the catalog tables themselves grant no DML to
 * anyone but their owner.  This is the shape pg_cron's API has: the
 * caller is captured before the identity changes, so a body never has to
 * trust an argument that says who called.
 *
 * Job workers connect as the bootstrap superuser and act as the job's
 * owner (SECURITY_RESTRICTED_OPERATION included), so everything they do
 * to targets, triggers and expressions included, has the owner's rights;
 * catalog statements switch to the superuser for their duration
 * (tributary_catalog_enter / tributary_catalog_leave).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "parser/parse_type.h"
#include "parser/parser.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "security.h"

/* the role that called the API function running now (InvalidOid: none) */
static Oid	api_caller = InvalidOid;

/* job workers: the role catalog statements run as (InvalidOid: no switch) */
Oid			tributary_catalog_role = InvalidOid;

/* what tributary_api keeps per public function */
typedef struct ApiTarget
{
	FmgrInfo	body;			/* tributary._api_<name> */
	bool		hide_statement; /* its arguments may hold secrets */
} ApiTarget;

/*
 * api_target: the body of the public API function being called, looked up
 * once per call site: tributary._api_<name> with the same argument types.
 */
static ApiTarget *
api_target(FunctionCallInfo fcinfo)
{
	ApiTarget  *target = (ApiTarget *) fcinfo->flinfo->fn_extra;
	HeapTuple	tup;
	Form_pg_proc proc;
	char	   *name;
	char	   *nspname;
	Oid			body;

	if (target != NULL)
		return target;
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", fcinfo->flinfo->fn_oid);
	proc = (Form_pg_proc) GETSTRUCT(tup);
	name = pstrdup(NameStr(proc->proname));
	nspname = get_namespace_name(proc->pronamespace);
	body = LookupFuncName(list_make2(makeString(nspname), makeString(psprintf("_api_%s", name))),
						  proc->pronargs, proc->proargtypes.values, false);
	ReleaseSysCache(tup);

	target = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ApiTarget));
	fmgr_info_cxt(body, &target->body, fcinfo->flinfo->fn_mcxt);
	target->hide_statement = (strcmp(name, "create_source") == 0 ||
							  strcmp(name, "alter_source") == 0);
	fcinfo->flinfo->fn_extra = target;
	return target;
}

PG_FUNCTION_INFO_V1(tributary_api);

/*
 * tributary_api: every public API function: note the caller, run the
 * function's body (which runs as the extension's owner), and give its
 * result back.  Errors of functions whose arguments may hold a password
 * are logged without the STATEMENT line, so the password stays out of
 * the server log.
 */
Datum
tributary_api(PG_FUNCTION_ARGS)
{
	ApiTarget  *target = api_target(fcinfo);
	Oid			saved = api_caller;
	MemoryContext cxt = CurrentMemoryContext;
	Datum		result;
	LOCAL_FCINFO(inner, FUNC_MAX_ARGS);

	InitFunctionCallInfoData(*inner, &target->body, PG_NARGS(), PG_GET_COLLATION(),
							 fcinfo->context, fcinfo->resultinfo);
	for (int i = 0; i < PG_NARGS(); i++)
		inner->args[i] = fcinfo->args[i];

	api_caller = GetUserId();
	PG_TRY();
	{
		result = FunctionCallInvoke(inner);
	}
	PG_CATCH();
	{
		api_caller = saved;
		if (target->hide_statement)
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
			edata->hide_stmt = true;
			ReThrowError(edata);
		}
		PG_RE_THROW();
	}
	PG_END_TRY();
	api_caller = saved;
	fcinfo->isnull = inner->isnull;
	return result;
}

PG_FUNCTION_INFO_V1(tributary_api_caller);

/*
 * tributary_api_caller: the role that called the API function whose body
 * is running (tributary._api_caller()).  Outside an API call it is an
 * error: the bodies must not be reachable any other way.
 */
Datum
tributary_api_caller(PG_FUNCTION_ARGS)
{
	if (!OidIsValid(api_caller))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("pg_tributary's internal functions can only be called through its API"),
				 errhint("Call the function of the same name without the \"_api_\" prefix.")));
	PG_RETURN_OID(api_caller);
}

PG_FUNCTION_INFO_V1(tributary_exec_as);

/*
 * tributary_exec_as: run a statement built by an API body (every name in
 * it quoted) as another role, in a security-restricted operation: the
 * target tables add_table creates belong to the job's owner and are
 * created with its rights, not the extension owner's.
 */
Datum
tributary_exec_as(PG_FUNCTION_ARGS)
{
	Oid			role = PG_GETARG_OID(0);
	char	   *sql = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Oid			save_user;
	int			save_sec;
	int			nestlevel;

	/* one statement, whatever text went into it */
	if (list_length(raw_parser(sql, RAW_PARSE_DEFAULT)) != 1)
		elog(ERROR, "refusing to run more than one statement: %s", sql);
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(role, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	nestlevel = NewGUCNestLevel();
	SPI_connect();
	if (SPI_execute(sql, false, 0) < 0)
		elog(ERROR, "could not run %s", sql);
	SPI_finish();
	/* settings the role's code (event triggers) made go with it */
	AtEOXact_GUC(false, nestlevel);
	SetUserIdAndSecContext(save_user, save_sec);
	PG_RETURN_VOID();
}

/*
 * privilege_names: "INSERT, UPDATE" for a privilege mask.
 */
static char *
privilege_names(AclMode mask)
{
	static const struct
	{
		AclMode		mode;
		const char *name;
	}			names[] = {
		{ACL_INSERT, "INSERT"}, {ACL_UPDATE, "UPDATE"},
		{ACL_DELETE, "DELETE"}, {ACL_TRUNCATE, "TRUNCATE"}
	};
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < lengthof(names); i++)
		if (mask & names[i].mode)
			appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", names[i].name);
	return buf.data;
}

/*
 * tributary_target_check: refuse to let a job write a table it must not:
 * system catalogs and the tables of pg_catalog, information_schema,
 * pg_toast and pg_tributary's own schema; temporary tables; tables its
 * owner lacks a needed privilege on; and tables with row-level security
 * that applies to the owner (its policies would hide rows from updates
 * and deletes, and the target would drift silently).  Called by add_table
 * and again when a worker opens the table, as PostgreSQL's apply worker
 * checks its targets.
 */
void
tributary_target_check(Oid relid, Oid owner, AclMode needed, const char *job_name)
{
	Oid			nsp = get_rel_namespace(relid);
	char	   *nspname = get_namespace_name(nsp);
	char	   *name = quote_qualified_identifier(nspname, get_rel_name(relid));
	char		relkind = get_rel_relkind(relid);
	AclMode		missing;

	if (IsCatalogRelationOid(relid) || IsCatalogNamespace(nsp) || IsToastNamespace(nsp) ||
		strcmp(nspname, "information_schema") == 0 || strcmp(nspname, "tributary") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("target table %s is a system table", name),
				 errdetail("Jobs never write the tables of pg_catalog, information_schema or pg_tributary's own schema."),
				 errhint("Sync into a table of a schema of your own.")));
	if (isAnyTempNamespace(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("target table %s is a temporary table", name),
				 errdetail("A temporary table belongs to one session; the job's worker cannot see it."),
				 errhint("Sync into a permanent table.")));
	/* a partitioned target: rows are routed into its partitions (apply/partition.c) */
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("target %s is not a table", name),
				 errhint("A job writes ordinary tables.")));

	missing = needed & ~pg_class_aclmask(relid, owner, needed, ACLMASK_ALL);
	if (missing != 0)
	{
		char	   *privs = privilege_names(missing);
		char	   *role = GetUserNameFromId(owner, false);

		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for table %s", name),
				 errdetail("Job \"%s\" writes the table as its owner, role \"%s\", which lacks %s on it.",
						   job_name, role, privs),
				 errhint("The table's owner may run: GRANT %s ON TABLE %s TO %s;",
						 privs, name, quote_identifier(role))));
	}
	if (check_enable_rls(relid, owner, true) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("target table %s has row-level security enabled", name),
				 errdetail("Job \"%s\" writes as role \"%s\", to which the table's policies apply: rows they hide could not be updated or deleted, and the table would drift from its source.",
						   job_name, GetUserNameFromId(owner, false)),
				 errhint("Sync into a table without row-level security, or own the job as a role with BYPASSRLS.")));
}

/*
 * privileges_for_mode: what a job of a mode needs on its targets: a copy
 * inserts after a truncate, change capture inserts, updates and deletes
 * (and truncates when the source does).
 */
static AclMode
privileges_for_mode(const char *mode)
{
	if (strcmp(mode, "full") == 0)
		return ACL_INSERT | ACL_TRUNCATE;
	if (strcmp(mode, "cdc") == 0)
		return ACL_INSERT | ACL_UPDATE | ACL_DELETE;
	/* polls upsert, after a first copy into an emptied target */
	if (strcmp(mode, "incremental") == 0)
		return ACL_INSERT | ACL_UPDATE | ACL_TRUNCATE;
	return ACL_INSERT | ACL_UPDATE | ACL_DELETE | ACL_TRUNCATE;
}

PG_FUNCTION_INFO_V1(tributary_check_target);

/*
 * tributary_check_target: SQL access to tributary_target_check for
 * add_table: (table, job owner, job mode, job name).
 */
Datum
tributary_check_target(PG_FUNCTION_ARGS)
{
	tributary_target_check(PG_GETARG_OID(0), PG_GETARG_OID(1),
						   privileges_for_mode(text_to_cstring(PG_GETARG_TEXT_PP(2))),
						   text_to_cstring(PG_GETARG_TEXT_PP(3)));
	PG_RETURN_VOID();
}

/*
 * tributary_parse_type: the type named by a source's type text, looked up
 * with search_path set to pg_catalog and the schema the source has the
 * type in (NULL: pg_catalog alone).  *typid is InvalidOid when the target
 * has no such type; text that is no type name is an error.
 */
void
tributary_parse_type(const char *type, const char *schema, Oid *typid, int32 *typmod)
{
	int			nestlevel = NewGUCNestLevel();
	char	   *path = schema && strcmp(schema, "pg_catalog") != 0 ?
		psprintf("pg_catalog, %s", quote_identifier(schema)) : "pg_catalog";

	(void) set_config_option("search_path", path, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	parseTypeString(type, typid, typmod, true);
	AtEOXact_GUC(false, nestlevel);
}

PG_FUNCTION_INFO_V1(tributary_canonical_type);

/*
 * tributary_canonical_type: the target's spelling of a source column's
 * type (qualified unless it is in pg_catalog), or NULL when the target
 * has no such type.  add_table builds target tables from it, never from
 * the text the source sent.
 */
Datum
tributary_canonical_type(PG_FUNCTION_ARGS)
{
	char	   *type = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *schema = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	Oid			typid;
	int32		typmod;
	int			nestlevel;
	char	   *result;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	tributary_parse_type(type, schema, &typid, &typmod);
	if (!OidIsValid(typid))
		PG_RETURN_NULL();
	/* printed with pg_catalog alone in the path: other schemas are named */
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	result = format_type_with_typemod(typid, typmod);
	AtEOXact_GUC(false, nestlevel);
	PG_RETURN_TEXT_P(cstring_to_text(result));
}

/*
 * tributary_catalog_enter: act as the catalog role (job workers) until
 * tributary_catalog_leave, with search_path pinned to pg_catalog: code of
 * the owner's that ran before (a trigger, a default) may have set
 * search_path for the session, and a catalog statement run as the
 * superuser must never resolve an operator or function through it.
 * Elsewhere (API bodies already run as the extension's owner, with a
 * fixed search_path) nothing changes.  An error in between is fine: the
 * transaction's abort restores the identity and settings it began with.
 */
TributaryUserSave
tributary_catalog_enter(void)
{
	TributaryUserSave save;

	GetUserIdAndSecContext(&save.userid, &save.sec);
	save.nestlevel = -1;
	if (OidIsValid(tributary_catalog_role))
	{
		SetUserIdAndSecContext(tributary_catalog_role,
							   (save.sec & ~SECURITY_RESTRICTED_OPERATION) | SECURITY_LOCAL_USERID_CHANGE);
		save.nestlevel = NewGUCNestLevel();
		(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	}
	return save;
}

/*
 * tributary_catalog_leave: back to the identity and settings
 * tributary_catalog_enter saved.
 */
void
tributary_catalog_leave(TributaryUserSave save)
{
	if (save.nestlevel >= 0)
		AtEOXact_GUC(false, save.nestlevel);
	SetUserIdAndSecContext(save.userid, save.sec);
}

/*
 * tributary_catalog_xact_begin: a transaction of its own for a worker's
 * catalog statements: started with a snapshot, as the catalog role
 * (tributary_catalog_enter), with SPI connected.  Ends with
 * tributary_catalog_xact_end.
 */
TributaryUserSave
tributary_catalog_xact_begin(void)
{
	TributaryUserSave us;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	us = tributary_catalog_enter();
	SPI_connect();
	return us;
}

/*
 * tributary_catalog_xact_end: commit what tributary_catalog_xact_begin
 * started, back in the caller's identity.
 */
void
tributary_catalog_xact_end(TributaryUserSave us)
{
	SPI_finish();
	tributary_catalog_leave(us);
	PopActiveSnapshot();
	CommitTransactionCommand();
}
