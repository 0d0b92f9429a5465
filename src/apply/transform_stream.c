/*-------------------------------------------------------------------------
 *
 * transform_stream.c
 *		A table's filter and column expressions applied to the change
 *		stream: every change of the source table becomes the change of
 *		its target rows that keeps the target equal to the transforms
 *		applied to the source, with the same expressions and the same
 *		results as the snapshot (transform.c).
 *
 * tributary_transform_prepare compiles a table's transforms for an entry
 * of the relation map when its target side is built (relmap.c), and maps
 * the source row's columns to the expressions' parameters.
 * tributary_transform_change rewrites one change before apply_one applies
 * it: its row images become rows of the target's copied columns (plain
 * columns keep the source's value as sent, expression columns hold a
 * Datum of the target column's type), and the filter decides the
 * operation:
 *
 *	insert			applied when the new row passes
 *	update			old and new pass: an update; only the new one: an
 *					insert; only the old one: a delete; neither: nothing
 *	delete			applied when the old row passed
 *
 * Both images are complete (PostgreSQL sources have REPLICA IDENTITY FULL,
 * MySQL sources full row images), so the filter is decided exactly for
 * each; an unchanged TOASTed value of the new image is the old image's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relation.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "apply/apply_int.h"
#include "apply/relmap.h"
#include "transform.h"

/* an entry's compiled transforms (map_cxt) */
typedef struct StreamTransform
{
	TributaryTransform *tr;
	char	   *source_table;	/* what tributary.source_table() says */
	int		   *read_src;		/* read column -> source column, -1: none */
	TribValueIO *read_io;		/* how a used read column's values are read */
	int		   *out_src;		/* copied plain column -> source column, -1: none */
	bool	   *out_key;		/* the copied column is in the target's key */
	int16	   *out_typlen;		/* the copied column's target type */
	bool	   *out_byval;
	Datum	   *vals;			/* expression values of the row being evaluated */
	bool	   *nulls;
} StreamTransform;

/*
 * source_index: the column of the source relation named name, or -1.
 */
static int
source_index(ApplyRel *ar, const char *name)
{
	for (int s = 0; s < ar->nsource; s++)
		if (strcmp(ar->source_names[s], name) == 0)
			return s;
	return -1;
}

/*
 * tributary_transform_prepare: compile the transforms of ar's table for
 * its target rel (open and locked) in the entry's map memory, so that
 * they are compiled again whenever the source's columns or the target
 * change.  A source column that an expression or the filter uses and
 * that the source no longer has is an error: the expression cannot be
 * evaluated.
 */
void
tributary_transform_prepare(ApplyRel *ar, Relation rel)
{
	TributaryTable *t = ar->table;
	TupleDesc	desc = RelationGetDescr(rel);
	MemoryContext old = MemoryContextSwitchTo(ar->map_cxt);
	StreamTransform *xf = palloc0(sizeof(StreamTransform));
	TributaryTransform *tr = tributary_transform_compile(t);
	Relation	idx;

	xf->tr = tr;
	xf->source_table = psprintf("%s.%s", t->source_nsp, t->source_rel);
	xf->read_src = palloc(sizeof(int) * Max(tr->nread, 1));
	xf->read_io = palloc0(sizeof(TribValueIO) * Max(tr->nread, 1));
	for (int i = 0; i < tr->nread; i++)
	{
		xf->read_src[i] = source_index(ar, t->read[i].name);
		if (!tr->used[i])
			continue;
		if (xf->read_src[i] < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("source table [%s] has no column \"%s\" any more, which an expression or the filter of job \"%s\" uses",
							ar->source_name, t->read[i].name, t->job_name),
					 errhint("Restore the source column, or remove the table from the job and add it again with other expressions.")));
		tributary_value_io_init(&xf->read_io[i], tr->params->params[i].ptype, tr->in_typmods[i],
								ar->source_types[xf->read_src[i]], ar->map_cxt);
	}

	xf->out_src = palloc(sizeof(int) * Max(tr->nout, 1));
	xf->out_key = palloc0(sizeof(bool) * Max(tr->nout, 1));
	xf->out_typlen = palloc0(sizeof(int16) * Max(tr->nout, 1));
	xf->out_byval = palloc0(sizeof(bool) * Max(tr->nout, 1));
	xf->vals = palloc0(sizeof(Datum) * Max(tr->nout, 1));
	xf->nulls = palloc0(sizeof(bool) * Max(tr->nout, 1));
	idx = index_open(ar->keyidx, AccessShareLock);
	for (int c = 0; c < tr->nout; c++)
	{
		TributaryColumn *col = &t->columns[c];

		xf->out_src[c] = col->source ? source_index(ar, col->source) : -1;
		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (att->attisdropped || strcmp(NameStr(att->attname), col->target) != 0)
				continue;
			xf->out_typlen[c] = att->attlen;
			xf->out_byval[c] = att->attbyval;
			for (int k = 0; k < idx->rd_index->indnkeyatts; k++)
				if (idx->rd_index->indkey.values[k] == att->attnum)
					xf->out_key[c] = true;
		}
	}
	index_close(idx, AccessShareLock);
	ar->xf = xf;
	MemoryContextSwitchTo(old);
}

/*
 * transform_row: evaluate one row image of the source (with fallback, the
 * old image, for the unchanged TOASTed values of a new one).  *pass tells
 * whether it passes the filter.  Returns the row of the target's copied
 * columns, in the current memory context; NULL when the row does not pass
 * and always is false (its values are not needed).
 */
static TribTuple *
transform_row(StreamTransform *xf, ApplyRel *ar, TribTuple *tuple, TribTuple *fallback,
			  bool always, bool *pass)
{
	TributaryTransform *tr = xf->tr;
	TribTuple  *out;
	MemoryContext old;

	tributary_transform_begin_row(tr);
	old = MemoryContextSwitchTo(tr->econtext->ecxt_per_tuple_memory);
	for (int i = 0; i < tr->nread; i++)
	{
		ParamExternData *p = &tr->params->params[i];
		int			s = xf->read_src[i];
		TribValue  *v = (s < tuple->natts) ? &tuple->values[s] : NULL;

		if (!tr->used[i])
			continue;
		if (v != NULL && v->kind == TRIB_VALUE_UNCHANGED && fallback != NULL && s < fallback->natts)
			v = &fallback->values[s];
		if (v == NULL || v->kind == TRIB_VALUE_UNCHANGED)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("a change of source table [%s] lacks the value of column \"%s\", which an expression or the filter uses",
							ar->source_name, ar->source_names[s]),
					 errhint("Set REPLICA IDENTITY FULL on the source table.")));
		p->isnull = (v->kind == TRIB_VALUE_NULL);
		p->value = p->isnull ? (Datum) 0 : tributary_value_datum(&xf->read_io[i], v);
	}
	MemoryContextSwitchTo(old);

	*pass = tributary_transform_filter(tr);
	if (!*pass && !always)
		return NULL;
	tributary_transform_outputs(tr, xf->vals, xf->nulls);

	out = palloc(sizeof(TribTuple));
	out->natts = tr->nout;
	out->values = palloc0(sizeof(TribValue) * Max(tr->nout, 1));
	for (int c = 0; c < tr->nout; c++)
	{
		TribValue  *v = &out->values[c];
		int			s = xf->out_src[c];

		if (tr->out_exprs[c] != NULL)
		{
			v->kind = xf->nulls[c] ? TRIB_VALUE_NULL : TRIB_VALUE_DATUM;
			if (!xf->nulls[c])
				v->datum = datumCopy(xf->vals[c], xf->out_byval[c], xf->out_typlen[c]);
		}
		else if (s >= 0 && s < tuple->natts)
		{
			*v = tuple->values[s];
			if (v->kind == TRIB_VALUE_UNCHANGED && fallback != NULL && s < fallback->natts)
				*v = fallback->values[s];
		}
		else
			v->kind = TRIB_VALUE_NULL;	/* not sent: the column is not filled */
	}
	return out;
}

/*
 * tributary_transform_change: one change of ar's table (which has
 * transforms) as the change of its target rows: *type, *oldtuple and
 * *newtuple are replaced (see the file's comment).  Returns false when
 * the change leaves the target as it is.  Runs in the local transaction;
 * what it makes is in the current memory context.
 */
bool
tributary_transform_change(TributaryApplyState *state, ApplyRel *ar, char *type,
						   TribTuple **oldtuple, TribTuple **newtuple)
{
	StreamTransform *xf = ar->xf;
	TribTuple  *o = *oldtuple;
	TribTuple  *n = *newtuple;
	TribTuple  *oldout = NULL;
	TribTuple  *newout = NULL;
	bool		oldpass = false;
	bool		newpass = false;
	TributaryRowMeta meta;

	Assert(xf != NULL);
	if (*type == TRIB_CHANGE_UPDATE && o == NULL && xf->tr->filter != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("an update of source table [%s] came without its old row, which the table's filter needs",
						ar->source_name),
				 errhint("Set REPLICA IDENTITY FULL on the source table.")));

	meta.table = xf->source_table;
	meta.op = (*type == TRIB_CHANGE_INSERT) ? 'c' : (*type == TRIB_CHANGE_UPDATE) ? 'u' : 'd';
	meta.has_commit = true;
	meta.commit_ts = state->commit_ts;
	meta.position = state->position;
	meta.source = state->job->source;
	tributary_transform_set_meta(&meta);
	/* functions of the expressions may read tables */
	PushActiveSnapshot(GetTransactionSnapshot());
	if (o != NULL && *type != TRIB_CHANGE_INSERT)
		oldout = transform_row(xf, ar, o, NULL, false, &oldpass);
	if (n != NULL)
		newout = transform_row(xf, ar, n, o, *type == TRIB_CHANGE_UPDATE && o == NULL, &newpass);
	PopActiveSnapshot();
	tributary_transform_set_meta(NULL);

	switch (*type)
	{
		case TRIB_CHANGE_INSERT:
			*newtuple = newout;
			return newpass;
		case TRIB_CHANGE_DELETE:
			*oldtuple = oldout;
			return oldpass;
		case TRIB_CHANGE_UPDATE:
			if (o == NULL)
			{
				/* no filter: the row passes; found by its new image */
				*newtuple = newout;
				return true;
			}
			if (oldpass && newpass)
			{
				*oldtuple = oldout;
				*newtuple = newout;
				return true;
			}
			if (oldpass)
			{
				/* the row stops passing */
				*type = TRIB_CHANGE_DELETE;
				*oldtuple = oldout;
				*newtuple = NULL;
				return true;
			}
			if (newpass)
			{
				/* the row starts to pass */
				*type = TRIB_CHANGE_INSERT;
				*oldtuple = NULL;
				*newtuple = newout;
				return true;
			}
			return false;
	}
	return false;
}

/*
 * tributary_transform_key_changed: whether two transformed row images of
 * an update differ in a column of the target's key (the row moves).
 */
bool
tributary_transform_key_changed(ApplyRel *ar, TribTuple *oldtuple, TribTuple *newtuple)
{
	StreamTransform *xf = ar->xf;

	for (int c = 0; c < oldtuple->natts && c < newtuple->natts; c++)
	{
		TribValue  *a = &oldtuple->values[c];
		TribValue  *b = &newtuple->values[c];

		if (!xf->out_key[c])
			continue;
		if (a->kind != b->kind)
			return true;
		if (a->kind == TRIB_VALUE_DATUM)
		{
			if (!datum_image_eq(a->datum, b->datum, xf->out_byval[c], xf->out_typlen[c]))
				return true;
		}
		else if (a->len != b->len || (a->len > 0 && memcmp(a->data, b->data, a->len) != 0))
			return true;
	}
	return false;
}
