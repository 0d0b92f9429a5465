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

extern TributaryTransform *tributary_transform_compile(TributaryTable *t);
extern bool tributary_transform_eval(TributaryTransform *tr, char **values,
									 Datum *out, bool *out_nulls);

#endif							/* TRIBUTARY_TRANSFORM_H */
