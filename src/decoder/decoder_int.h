/*-------------------------------------------------------------------------
 *
 * decoder_int.h
 *		What tributary_decoder's files share: the session state and the
 *		relation cache (decoder_rels.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_DECODER_INT_H
#define TRIBUTARY_DECODER_INT_H

#include "access/tupconvert.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/hsearch.h"
#include "utils/rel.h"

#include "decoder/proto_text.h"

/* per-relation state: filter decision, schema sent, output functions */
typedef struct RelEntry
{
	Oid			relid;			/* hash key */
	bool		valid;
	bool		included;
	bool		schema_sent;
	int			natts;			/* of the relation, dropped ones included */
	FmgrInfo   *out_fns;		/* per attribute: output or send function */
	Oid			publish_as;		/* a partition: the named ancestor its changes are sent as */
	TupleConversionMap *map;	/* its rows into the ancestor's, NULL if alike */
} RelEntry;

typedef struct DecoderData
{
	MemoryContext change_cxt;	/* reset after every change */
	MemoryContext cache_cxt;	/* relation entries */
	bool		binary;
	bool		streaming;
	bool		messages;
	bool		text_format;
	bool		batch;			/* protocol version 2: batched writes */
	bool		batch_open;		/* a write is prepared and not yet sent */
	List	   *tables;			/* list of "schema\0table" pairs, NIL = all */
	bool		in_streaming;
	bool		xact_begun;		/* BEGIN of the current transaction was sent */
	int			guc_nestlevel;	/* output settings pinned for the session */
	HTAB	   *relcache;
	StringInfoData scratch;		/* binary message, when rendering text */
	TribTextState text;
} DecoderData;

/* decoder_rels.c */
extern HTAB *dec_active_relcache;
extern List *dec_parse_tables_option(const char *value);
extern void dec_invalidate(Datum arg, Oid relid);
extern RelEntry *dec_get_rel_entry(DecoderData *data, Relation relation);

#endif							/* TRIBUTARY_DECODER_INT_H */
