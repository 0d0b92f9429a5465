/*-------------------------------------------------------------------------
 *
 * copy_in.c
 *		The apply engine's bulk path: rows of a snapshot chunk go into the
 *		target table through PostgreSQL's own COPY FROM machinery, fed by
 *		a callback (as the table sync of logical replication does), so
 *		there are no temporary files and no per-row SQL.
 *
 * The caller's transaction holds the chunk's progress row too.  The job's
 * owner must have INSERT on the target (and TRUNCATE for the first chunk),
 * and the target must be one a job may write (tributary_target_check):
 * the worker runs as the owner and the checks are made here, since
 * BeginCopyFrom does not make them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/heap.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_relation.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "access/transam.h"

#include "apply/apply_int.h"
#include "apply/copy_in.h"
#include "apply/relmap.h"
#include "pg_tributary.h"
#include "security.h"

/* the reader of the COPY in progress (the data source callback has no argument) */
static TributaryCopyReader current_reader = NULL;
static void *current_arg = NULL;
static char *pending = NULL;
static int	pending_len = 0;

/*
 * copy_data_source: BeginCopyFrom's callback; fills outbuf with at least
 * minread bytes (less only at the end of the data).
 */
static int
copy_data_source(void *outbuf, int minread, int maxread)
{
	int			bytesread = 0;

	while (maxread > 0 && bytesread < minread)
	{
		if (pending_len > 0)
		{
			int			n = Min(pending_len, maxread);

			memcpy((char *) outbuf + bytesread, pending, n);
			pending += n;
			pending_len -= n;
			bytesread += n;
			maxread -= n;
			continue;
		}
		CHECK_FOR_INTERRUPTS();
		tributary_exit_if_orphaned();
		pending_len = current_reader(current_arg, &pending);
		if (pending_len < 0)
		{
			pending_len = 0;
			break;				/* end of data */
		}
	}
	return bytesread;
}

/*
 * open_target: the target relation, locked, with the owner's privileges
 * checked.
 */
static Relation
open_target(TributaryTable *t, LOCKMODE lockmode, AclMode needed)
{
	Oid			relid;
	Relation	rel;

	relid = tributary_target_relid(t, lockmode);
	tributary_target_check(relid, GetUserId(), needed, t->job_name);
	rel = table_open(relid, NoLock);
	return rel;
}

/*
 * is_job_target: whether relid is the target of one of the job's tables.
 */
static bool
is_job_target(List *job_tables, Oid relid)
{
	ListCell   *lc;

	foreach(lc, job_tables)
	{
		TributaryTable *jt = (TributaryTable *) lfirst(lc);

		if (RangeVarGetRelid(makeRangeVar(jt->target_nsp, jt->target_rel, -1), NoLock, true) == relid)
			return true;
	}
	return false;
}

/*
 * tributary_truncate_target: empty the target before its first chunk, in
 * the chunk's transaction.  A target other tables reference with foreign
 * keys cannot be truncated alone: when every referencing table is a
 * target of the same job (whose own snapshot empties and fills it), its
 * rows are deleted instead (the worker is a replica, so the constraints'
 * triggers do not fire, as on a subscriber); a referencing table outside
 * the job is an error, since its rows would point at rows that are gone.
 * A target that other source tables of the job feed too loses only this
 * source's rows (merge.c).
 */
void
tributary_truncate_target(TributaryTable *t, List *job_tables)
{
	Relation	rel = open_target(t, AccessExclusiveLock, ACL_TRUNCATE);
	Oid			relid = RelationGetRelid(rel);
	List	   *referencing = heap_truncate_find_FKs(list_make1_oid(relid));
	char	   *name = quote_qualified_identifier(t->target_nsp, t->target_rel);
	char	   *sql;
	const char *only;
	ListCell   *lc;
	bool		copied_other;

	table_close(rel, NoLock);
	/* a target other source tables feed too (merge.c) */
	if (tributary_merge_shared(t, &copied_other))
	{
		if (t->source_column)
		{
			tributary_merge_delete_source_rows(t, NULL, InvalidOid, 0);
			return;
		}
		if (copied_other)
			return;				/* the other sources' rows stay */
	}
	foreach(lc, referencing)
	{
		Oid			other = lfirst_oid(lc);

		if (!is_job_target(job_tables, other))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("target table %s is referenced by a foreign key of table %s, which job \"%s\" does not sync",
							name, quote_qualified_identifier(get_namespace_name(get_rel_namespace(other)),
															 get_rel_name(other)), t->job_name),
					 errdetail("The snapshot empties the target first, which would leave that table's rows pointing at rows that are gone."),
					 errhint("Add the table's source to the job, or drop its foreign key constraint.")));
	}
	/* a table another engine owns: through it (write_engine.c) */
	if (referencing == NIL && tributary_engine_target(relid))
	{
		tributary_engine_truncate(name);
		return;
	}
	/* a partitioned target is emptied with its partitions */
	only = (get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE) ? "" : "ONLY ";
	if (referencing != NIL)
	{
		tributary_target_check(relid, GetUserId(), ACL_DELETE, t->job_name);
		sql = psprintf("DELETE FROM %s%s", only, name);
	}
	else
		sql = psprintf("TRUNCATE %s%s", only, name);
	SPI_connect();
	if (SPI_execute(sql, false, 0) < 0)
		elog(ERROR, "could not empty %s", name);
	SPI_finish();
}

/*
 * tributary_copy_into: COPY the rows that reader hands out (COPY text or
 * binary format, in the order of t's columns) into the target.  Returns
 * the number of rows.  A target another engine owns takes them through
 * that engine's COPY destination, or, where this file does not know it,
 * through its planner in text format only (tributary_copy_can_be_binary).
 */
uint64
tributary_copy_into(TributaryTable *t, TributaryCopyReader reader, void *arg, bool binary)
{
	Relation	rel = open_target(t, RowExclusiveLock, ACL_INSERT);
	ParseState *pstate = make_parsestate(NULL);
	List	   *attnames = NIL;
	CopyFromState cstate;
	uint64		rows;
	bool		engine;

	/*
	 * a table another engine owns: through its COPY destination, else its
	 * planner (write_engine.c)
	 */
	engine = tributary_engine_target(RelationGetRelid(rel));
	if (engine && !tributary_engine_can_copy(rel))
	{
		Assert(!binary);
		rows = tributary_engine_copy(t, rel, reader, arg);
		table_close(rel, NoLock);
		return rows;
	}
	for (int i = 0; i < t->ncolumns; i++)
		attnames = lappend(attnames, makeString(t->columns[i].target));
	(void) addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, NULL, false, false);

	current_reader = reader;
	current_arg = arg;
	pending = NULL;
	pending_len = 0;
	PG_TRY();
	{
		cstate = BeginCopyFrom(pstate, rel, NULL, NULL, false, copy_data_source, attnames,
							   binary ? list_make1(makeDefElem("format", (Node *) makeString("binary"), -1)) : NIL);
		rows = engine ? tributary_engine_copy_from(rel, cstate) : CopyFrom(cstate);
		EndCopyFrom(cstate);
	}
	PG_FINALLY();
	{
		current_reader = NULL;
		pending = NULL;
		pending_len = 0;
	}
	PG_END_TRY();

	table_close(rel, NoLock);
	return rows;
}

/*
 * binary_io_round_trips: whether a type's send and receive functions give
 * back the value it sent: not for types without them (aclitem, and arrays
 * of it), nor for int2vector and oidvector, whose receive functions refuse
 * what their send functions write for some values (an empty vector).
 * Such columns are copied and streamed as text.
 */
static bool
binary_io_round_trips(Oid typid)
{
	HeapTuple	tup;
	Form_pg_type typ;
	bool		ok;
	Oid			elem;

	if (typid == INT2VECTOROID || typid == OIDVECTOROID)
		return false;
	elem = get_element_type(typid);
	if (OidIsValid(elem))
		return binary_io_round_trips(elem);
	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	if (!HeapTupleIsValid(tup))
		return false;
	typ = (Form_pg_type) GETSTRUCT(tup);
	ok = OidIsValid(typ->typsend) && OidIsValid(typ->typreceive);
	ReleaseSysCache(tup);
	return ok;
}

/*
 * tributary_copy_can_be_binary: whether COPY's binary format can carry the
 * table's rows: every copied column is a plain source column of a built-in
 * type with the same type and typmod on the target (binary formats of
 * built-in types are the same on both sides of one major version) whose
 * binary I/O round-trips.
 * source_types holds "oid name" per column, as the connector reports them.
 */
bool
tributary_copy_can_be_binary(TributaryTable *t, List *source_types)
{
	Oid			relid = RangeVarGetRelid(makeRangeVar(t->target_nsp, t->target_rel, -1), NoLock, true);
	Relation	rel;
	bool		ok = OidIsValid(relid) && list_length(source_types) == t->ncolumns;

	if (!ok)
		return false;
	rel = table_open(relid, AccessShareLock);
	/* a table another engine owns: only through its COPY destination */
	ok = !tributary_engine_target(relid) || tributary_engine_can_copy(rel);
	for (int i = 0; ok && i < t->ncolumns; i++)
	{
		char	   *src = (char *) list_nth(source_types, i);
		AttrNumber	attno = attnameAttNum(rel, t->columns[i].target, false);
		Form_pg_attribute att;
		char	   *mine;

		if (src == NULL || attno <= 0)
		{
			ok = false;
			break;
		}
		att = TupleDescAttr(RelationGetDescr(rel), attno - 1);
		mine = psprintf("%u %s", att->atttypid, format_type_with_typemod(att->atttypid, att->atttypmod));
		ok = (att->atttypid < FirstNormalObjectId && strcmp(src, mine) == 0 &&
			  binary_io_round_trips(att->atttypid));
	}
	table_close(rel, AccessShareLock);
	return ok;
}
