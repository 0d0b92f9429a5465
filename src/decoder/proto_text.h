/*-------------------------------------------------------------------------
 *
 * proto_text.h
 *		Text rendering of tributary_decoder messages (see proto_text.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_PROTO_TEXT_H
#define TRIBUTARY_PROTO_TEXT_H

#include "decoder/proto.h"
#include "utils/hsearch.h"

/* what the renderer remembers across messages of one decoding session */
typedef struct TribTextState
{
	HTAB	   *relations;		/* relid -> TribRelation, from RELATION messages */
	MemoryContext cxt;
	bool		in_stream;
} TribTextState;

extern void trib_text_init(TribTextState *state, MemoryContext cxt);
extern void trib_text_render(TribTextState *state, StringInfo msgbuf, StringInfo out);

#endif							/* TRIBUTARY_PROTO_TEXT_H */
