/*-------------------------------------------------------------------------
 *
 * decoder_rels.c
 *		Which relations tributary_decoder sends, and as what: the "tables"
 *		option (quoted qualified names), and the relation cache: whether a
 *		relation is included, its output functions, and for a partition of
 *		a named table the ancestor it is sent as, with the map of its rows
 *		into the ancestor's columns.  Entries are invalidated by relcache
 *		callbacks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/partition.h"
#include "parser/scansup.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "decoder/decoder_int.h"

/* the relation cache of the current decoding session (for invalidations) */
HTAB	   *dec_active_relcache = NULL;

/*
 * next_name: one identifier of a qualified-name list at *p: double-quoted
 * (with "" for a quote; any character inside, commas and dots included)
 * or bare (up to the next dot, comma or space, taken as written, since
 * quote_identifier leaves only lower-case plain names bare).  Advances *p;
 * NULL when there is no identifier there.
 */
static char *
next_name(const char **p)
{
	StringInfoData buf;
	const char *s = *p;

	initStringInfo(&buf);
	if (*s == '"')
	{
		for (s++;; s++)
		{
			if (*s == '\0')
				return NULL;	/* unterminated */
			if (*s == '"')
			{
				if (s[1] != '"')
					break;
				s++;
			}
			appendStringInfoChar(&buf, *s);
		}
		s++;
	}
	else
		for (; *s && *s != '.' && *s != ',' && !scanner_isspace(*s); s++)
			appendStringInfoChar(&buf, *s);
	if (buf.len == 0)
		return NULL;
	*p = s;
	return buf.data;
}

/*
 * dec_parse_tables_option: "s1.t1,\"s 2\".\"t,2\"" into a list of qualified
 * pairs, stored as two-element string lists.  Names are quoted as
 * quote_identifier quotes them, so that spaces, commas, dots and quotes
 * in names survive.
 */
List *
dec_parse_tables_option(const char *value)
{
	const char *p = value;
	List	   *result = NIL;

	for (;;)
	{
		char	   *nsp;
		char	   *rel = NULL;

		while (scanner_isspace(*p))
			p++;
		nsp = next_name(&p);
		if (nsp != NULL && *p != '.')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid table name \"%s\" in tributary_decoder option \"tables\"", nsp),
					 errdetail("Expected schema.table.")));
		if (nsp != NULL)
		{
			p++;
			rel = next_name(&p);
		}
		if (rel == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid tributary_decoder option \"tables\": %s", value),
					 errdetail("Expected a comma-separated list of schema.table names, quoted as identifiers.")));
		result = lappend(result, list_make2(nsp, rel));
		while (scanner_isspace(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p++ != ',')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid tributary_decoder option \"tables\": %s", value),
					 errdetail("Expected a comma after each schema.table name.")));
	}
	return result;
}

/*
 * dec_invalidate: relcache callback; forget what we know of a relation.
 */
void
dec_invalidate(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	RelEntry   *entry;

	if (dec_active_relcache == NULL)
		return;
	if (OidIsValid(relid))
	{
		entry = hash_search(dec_active_relcache, &relid, HASH_FIND, NULL);
		if (entry)
			entry->valid = entry->schema_sent = false;
		/* partitions sent as this relation: their row maps depend on it */
		hash_seq_init(&status, dec_active_relcache);
		while ((entry = hash_seq_search(&status)) != NULL)
			if (entry->publish_as == relid)
				entry->valid = false;
		return;
	}
	hash_seq_init(&status, dec_active_relcache);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->valid = entry->schema_sent = false;
}

/*
 * table_named: whether the "tables" option names a relation.
 */
static bool
table_named(DecoderData *data, Oid nspid, const char *relname)
{
	char	   *nsp = get_namespace_name(nspid);
	ListCell   *lc;

	/* an ancestor looked up by OID may be gone from the catalog snapshot */
	if (nsp == NULL || relname == NULL)
		return false;
	foreach(lc, data->tables)
	{
		List	   *pair = (List *) lfirst(lc);

		if (strcmp(linitial(pair), nsp) == 0 && strcmp(lsecond(pair), relname) == 0)
			return true;
	}
	return false;
}

/*
 * include_as_ancestor: a partition whose ancestor the "tables" option
 * names is included, and its changes are sent as changes of the topmost
 * such ancestor (the job's table holds the rows of all its partitions;
 * a row moving between partitions arrives as a delete and an insert of
 * that table).  Its rows are converted to the ancestor's columns, which
 * may be in another order or have other dropped columns.  Called in the
 * cache context.
 */
static void
include_as_ancestor(DecoderData *data, RelEntry *entry, Relation relation)
{
	List	   *ancestors = get_partition_ancestors(RelationGetRelid(relation));
	ListCell   *lc;
	Relation	anc;

	foreach(lc, ancestors)
	{
		Oid			a = lfirst_oid(lc);

		if (table_named(data, get_rel_namespace(a), get_rel_name(a)))
			entry->publish_as = a;
	}
	if (!OidIsValid(entry->publish_as))
		return;
	entry->included = true;
	anc = RelationIdGetRelation(entry->publish_as);
	if (!RelationIsValid(anc))
		elog(ERROR, "could not open relation with OID %u", entry->publish_as);
	{
		TupleDesc	in = CreateTupleDescCopy(RelationGetDescr(relation));
		TupleDesc	outdesc = CreateTupleDescCopy(RelationGetDescr(anc));

		entry->map = convert_tuples_by_name(in, outdesc);
		if (entry->map == NULL)
		{
			FreeTupleDesc(in);
			FreeTupleDesc(outdesc);
		}
	}
	RelationClose(anc);
}

/*
 * dec_get_rel_entry: the (valid) cache entry of a relation.
 */
RelEntry *
dec_get_rel_entry(DecoderData *data, Relation relation)
{
	Oid			relid = RelationGetRelid(relation);
	bool		found;
	RelEntry   *entry = hash_search(data->relcache, &relid, HASH_ENTER, &found);

	if (!found)
	{
		entry->valid = false;
		entry->schema_sent = false;
		entry->out_fns = NULL;
		entry->map = NULL;
	}
	if (!entry->valid)
	{
		TupleDesc	desc = RelationGetDescr(relation);
		MemoryContext old = MemoryContextSwitchTo(data->cache_cxt);

		entry->included = (data->tables == NIL) ||
			table_named(data, RelationGetNamespace(relation), RelationGetRelationName(relation));
		entry->publish_as = InvalidOid;
		if (entry->map)
		{
			FreeTupleDesc(entry->map->indesc);
			FreeTupleDesc(entry->map->outdesc);
			free_conversion_map(entry->map);
		}
		entry->map = NULL;
		if (!entry->included && relation->rd_rel->relispartition)
			include_as_ancestor(data, entry, relation);
		if (entry->out_fns)
			pfree(entry->out_fns);
		entry->natts = desc->natts;
		entry->out_fns = palloc0(sizeof(FmgrInfo) * Max(desc->natts, 1));
		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);
			Oid			fn;
			bool		varlena;

			if (att->attisdropped || att->attgenerated)
				continue;
			if (data->binary)
				getTypeBinaryOutputInfo(att->atttypid, &fn, &varlena);
			else
				getTypeOutputInfo(att->atttypid, &fn, &varlena);
			fmgr_info_cxt(fn, &entry->out_fns[i], data->cache_cxt);
		}
		MemoryContextSwitchTo(old);
		entry->valid = true;
	}
	return entry;
}
