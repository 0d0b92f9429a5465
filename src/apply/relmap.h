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

/*
 * How a value of the change stream becomes a Datum of one type: text
 * through the type's input function; binary values through its receive
 * function when the source sent the same built-in type, else through the
 * source type's receive and output functions and the text (MySQL sources
 * send binary values of the design's type mapping; a column of another
 * type reads them through their text).  tributary_value_io_init sets one
 * up, tributary_value_datum reads a value (apply_int.h).
 */
typedef struct TribValueIO
{
	FmgrInfo	in_fn;
	Oid			ioparam;
	int32		typmod;
	FmgrInfo	recv_fn;		/* fn_oid 0: binary values of the same type do not come */
	Oid			recv_ioparam;
	FmgrInfo	src_recv_fn;	/* fn_oid 0: binary values of another type do not come */
	Oid			src_recv_ioparam;
	FmgrInfo	src_out_fn;
} TribValueIO;

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
	TribValueIO *io;			/* per target attribute: how its values are read */
	Oid			keyidx;			/* index used to find rows */
	bool		key_deferrable; /* keyidx is a DEFERRABLE primary key (find_row.c) */
	Expr	  **defaults;		/* per target attribute: default of an unmapped column */
	bool		has_defaults;
	/* dml delete "mark:<column>" (soft deletes): that target attribute (0-based) and its type, else -1 */
	int			mark_attno;
	Oid			mark_type;
	/* a table with a filter or expression columns: its transforms (transform_stream.c) */
	struct StreamTransform *xf;
	/* the target is a table another engine owns (Citus): written through it (write_engine.c) */
	bool		engine;
	struct EnginePlans *engine_plans;	/* its statements, prepared at first use */
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
extern void tributary_value_io_init(TribValueIO *io, Oid type, int32 typmod, Oid source_type,
									MemoryContext cxt);

#endif							/* TRIBUTARY_RELMAP_H */
