/*-------------------------------------------------------------------------
 *
 * relmap.h
 *		The apply engine's map of source relations to target tables, with
 *		invalidation (see relmap.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_RELMAP_H
#define TRIBUTARY_RELMAP_H

#include "apply/apply.h"
#include "fmgr.h"
#include "nodes/primnodes.h"
#include "utils/rel.h"

/* a source relation mapped to its target */
typedef struct ApplyRel
{
	Oid			source_relid;	/* hash key */
	TributaryTable *table;		/* NULL: not part of the job */
	char	   *source_name;	/* "schema.table" of the source */
	/* the source side, from the last RELATION message (source_cxt) */
	MemoryContext source_cxt;
	int			nsource;		/* source columns */
	char	  **source_names;
	Oid		   *source_types;	/* the source's type OIDs */
	int32	   *source_typmods; /* and type modifiers */
	bool	   *source_is_key;	/* per source column: part of the primary key */
	/*
	 * the target side (map_cxt), built from the target table when first
	 * used and again whenever the target changed (valid is cleared by a
	 * relcache invalidation of the target)
	 */
	bool		valid;
	MemoryContext map_cxt;
	Oid			target_relid;
	int			natts;			/* target attributes */
	char	  **target_names;	/* their names, for error messages */
	int		   *attmap;			/* target attno - 1 -> source column, -1 = none */
	FmgrInfo   *in_fns;			/* target input functions */
	Oid		   *ioparams;
	FmgrInfo   *recv_fns;		/* target receive functions, where binary values may come */
	Oid		   *recv_ioparams;
	/*
	 * source type's receive and output functions, where binary values of
	 * another built-in type than the target column's may come (MySQL
	 * sources send binary values by the design's type mapping; a target
	 * column of another type reads them through their text)
	 */
	FmgrInfo   *src_recv_fns;
	Oid		   *src_recv_ioparams;
	FmgrInfo   *src_out_fns;
	int32	   *typmods;
	Oid			keyidx;			/* index used to find rows */
	bool		key_deferrable; /* keyidx is a DEFERRABLE primary key (find_row.c) */
	Expr	  **defaults;		/* per target attribute: default of an unmapped column */
	bool		has_defaults;
	/* dml delete "mark:<column>" (soft deletes): that target attribute (0-based) and its type, else -1 */
	int			mark_attno;
	Oid			mark_type;
	/* apply.c's */
	int64		rows;			/* rows applied since the counters were saved */
	struct ApplyOpen *open;		/* executor state in the open local transaction */
} ApplyRel;

extern void tributary_relmap_init(TributaryApplyState *state);
extern void tributary_relmap_reset(void);
extern ApplyRel *tributary_relmap_update(TributaryApplyState *state, TribRelation *msg);
extern void tributary_relmap_rebind(TributaryApplyState *state, TributaryTable *t);
extern Oid	tributary_target_relid(TributaryTable *t, LOCKMODE lockmode);
extern Relation tributary_relmap_open(TributaryApplyState *state, ApplyRel *ar, LOCKMODE lockmode);

#endif							/* TRIBUTARY_RELMAP_H */
