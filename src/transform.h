/*-------------------------------------------------------------------------
 *
 * transform.h
 *		Column expressions and row filters of a job table, parsed and
 *		evaluated on the target (see transform.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_TRANSFORM_H
#define TRIBUTARY_TRANSFORM_H

#include "executor/executor.h"
#include "catalog.h"

/*
 * A table's transforms compiled for one process and transaction: input
 * rows hold the table's read columns (t->read), output rows its target
 * columns (t->columns).
 */
typedef struct TributaryTransform
{
	int			nread;
	bool	   *used;			/* read column referenced by an expression */
	FmgrInfo   *in_fns;			/* input functions of the used ones */
	Oid		   *in_ioparams;
	int32	   *in_typmods;
	ParamListInfo params;		/* one parameter per read column */
	ExprContext *econtext;
	ExprState  *filter;			/* NULL: every row passes */
	int			nout;
	int		   *out_field;		/* read column of a plain target column, or -1 */
	ExprState **out_exprs;		/* expression of the others */
	FmgrInfo   *out_fns;		/* their target types' output functions */
} TributaryTransform;

/*
 * The source row being evaluated, as tributary.source_table(),
 * source_op(), source_commit_time() and source_position() tell it: op 'r'
 * (a snapshot read), 'c', 'u' or 'd'; the commit time and position are
 * those of the source transaction (none for snapshot rows).  The
 * position's text is made only when asked for.
 */
typedef struct TributaryRowMeta
{
	const char *table;			/* "schema.table" on the source */
	char		op;
	bool		has_commit;		/* commit_ts and position are known */
	TimestampTz commit_ts;
	XLogRecPtr	position;
	TributarySource *source;	/* renders position */
} TributaryRowMeta;

extern TributaryTransform *tributary_transform_compile(TributaryTable *t);
extern bool tributary_transform_eval(TributaryTransform *tr, char **values,
									 Datum *out, bool *out_nulls);
extern void tributary_transform_begin_row(TributaryTransform *tr);
extern bool tributary_transform_filter(TributaryTransform *tr);
extern void tributary_transform_outputs(TributaryTransform *tr, Datum *out, bool *out_nulls);
extern void tributary_transform_set_meta(const TributaryRowMeta *meta);

#endif							/* TRIBUTARY_TRANSFORM_H */
