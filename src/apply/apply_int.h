/*-------------------------------------------------------------------------
 *
 * apply_int.h
 *		What the apply engine's files share among themselves (apply.c,
 *		relmap.c, dirty.c); callers outside src/apply use apply.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_APPLY_INT_H
#define TRIBUTARY_APPLY_INT_H

#include "apply/relmap.h"

/* apply.c */
extern Datum tributary_receive_value(FmgrInfo *fn, Oid ioparam, int32 typmod, TribValue *v);

/* dirty.c */
extern void tributary_record_dirty_row(TributaryApplyState *state, ApplyRel *ar, TribTuple *tuple,
									   ErrorData *edata);

#endif							/* TRIBUTARY_APPLY_INT_H */
