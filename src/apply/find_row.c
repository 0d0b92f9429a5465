/*-------------------------------------------------------------------------
 *
 * find_row.c
 *		Finding the target row a change is about, by the target's key.
 *
 * An immediate primary key (or replica identity index) holds each key
 * once at any time, so PostgreSQL's RelationFindReplTupleByIndex, which
 * takes the first row the index returns, finds the row.  A DEFERRABLE
 * primary key may hold a key twice inside a transaction: swapping the keys
 * of two rows (UPDATE t SET id = 3 - id), valid on the source, arrives as
 * two updates, and after the first one the index has two rows with key 2.
 * For such a key every row the index returns for the key is compared with
 * the whole old image the change carries (REPLICA IDENTITY FULL), by each
 * column type's equality, and the one that equals it is taken, locked as
 * RelationFindReplTupleByIndex locks it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/nbtree.h"
#include "access/relscan.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_index.h"
#include "catalog/pg_opclass.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "apply/apply.h"
#include "apply/apply_int.h"

/*
 * tributary_deferrable_key: the valid DEFERRABLE primary key index of a
 * table, or InvalidOid (the relcache's primary key leaves such keys out).
 */
Oid
tributary_deferrable_key(Relation rel)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	Oid			found = InvalidOid;

	foreach(lc, indexes)
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index idx;

		if (!HeapTupleIsValid(tup))
			continue;
		idx = (Form_pg_index) GETSTRUCT(tup);
		if (idx->indisprimary && idx->indisvalid && !idx->indimmediate)
			found = idx->indexrelid;
		ReleaseSysCache(tup);
	}
	list_free(indexes);
	return found;
}

/*
 * rows_equal: whether a candidate row equals the search row in every
 * column the change fills, by the columns' equality operators.
 */
static bool
rows_equal(ApplyRel *ar, TupleTableSlot *cand, TupleTableSlot *search)
{
	TupleDesc	desc = search->tts_tupleDescriptor;

	slot_getallattrs(cand);
	slot_getallattrs(search);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		TypeCacheEntry *tc;

		if (att->attisdropped || att->attgenerated || i >= ar->natts || ar->attmap[i] < 0)
			continue;
		if (cand->tts_isnull[i] != search->tts_isnull[i])
			return false;
		if (cand->tts_isnull[i])
			continue;
		tc = lookup_type_cache(att->atttypid, TYPECACHE_EQ_OPR_FINFO);
		if (!OidIsValid(tc->eq_opr_finfo.fn_oid))
		{
			/* no equality (e.g. point): the bytes must be the same */
			if (!datumIsEqual(cand->tts_values[i], search->tts_values[i], att->attbyval, att->attlen))
				return false;
			continue;
		}
		if (!DatumGetBool(FunctionCall2Coll(&tc->eq_opr_finfo, att->attcollation,
											cand->tts_values[i], search->tts_values[i])))
			return false;
	}
	return true;
}

/*
 * build_scan_keys: equality scan keys on the index's key columns, with the
 * search row's values.  False when a key value is NULL (no row matches).
 */
static bool
build_scan_keys(Relation idxrel, TupleTableSlot *search, ScanKey keys)
{
	int			nkeys = IndexRelationGetNumberOfKeyAttributes(idxrel);
	oidvector  *opclasses;
	bool		isnull;
	Datum		d = SysCacheGetAttr(INDEXRELID, idxrel->rd_indextuple, Anum_pg_index_indclass, &isnull);

	opclasses = (oidvector *) DatumGetPointer(d);
	slot_getallattrs(search);
	for (int i = 0; i < nkeys; i++)
	{
		AttrNumber	heapatt = idxrel->rd_index->indkey.values[i];
		Oid			opfamily = get_opclass_family(opclasses->values[i]);
		Oid			optype = get_opclass_input_type(opclasses->values[i]);
		Oid			op = get_opfamily_member(opfamily, optype, optype, BTEqualStrategyNumber);

		if (heapatt <= 0 || !OidIsValid(op))
			elog(ERROR, "index %s cannot be searched by equality", RelationGetRelationName(idxrel));
		if (search->tts_isnull[heapatt - 1])
			return false;
		ScanKeyInit(&keys[i], i + 1, BTEqualStrategyNumber, get_opcode(op),
					search->tts_values[heapatt - 1]);
		keys[i].sk_collation = idxrel->rd_indcollation[i];
	}
	return true;
}

/*
 * tributary_find_row: the row of the target that the search row designates
 * (ao->search: a change's old image when old_image, else its new one),
 * locked in lockmode, in ao->local; false when there is none.  With a
 * deferrable key and an old image, a row equal to the whole image is
 * preferred to another row with the same key.
 */
bool
tributary_find_row(ApplyRel *ar, ApplyOpen *ao, LockTupleMode lockmode, bool old_image)
{
	Relation	idxrel;
	ScanKeyData keys[INDEX_MAX_KEYS];
	IndexScanDesc scan;
	SnapshotData snap;
	TransactionId xwait;
	bool		found;
	bool		whole = old_image;

	if (!ar->key_deferrable)
		return RelationFindReplTupleByIndex(ao->rel, ar->keyidx, lockmode, ao->search, ao->local);

	idxrel = index_open(ar->keyidx, RowExclusiveLock);
	if (!build_scan_keys(idxrel, ao->search, keys))
	{
		index_close(idxrel, NoLock);
		return false;
	}
	InitDirtySnapshot(snap);
	scan = index_beginscan(ao->rel, idxrel, &snap, IndexRelationGetNumberOfKeyAttributes(idxrel), 0);

retry:
	found = false;
	index_rescan(scan, keys, IndexRelationGetNumberOfKeyAttributes(idxrel), NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, ao->local))
	{
		if (whole && !rows_equal(ar, ao->local, ao->search))
			continue;
		found = true;
		ExecMaterializeSlot(ao->local);
		xwait = TransactionIdIsValid(snap.xmin) ? snap.xmin : snap.xmax;
		/* a transaction still writing the row: wait for it, then look again */
		if (TransactionIdIsValid(xwait))
		{
			XactLockTableWait(xwait, NULL, NULL, XLTW_None);
			goto retry;
		}
		break;
	}
	if (!found && whole)
	{
		/* no row equals the old image: the first with its key, as for other keys */
		whole = false;
		goto retry;
	}

	if (found)
	{
		TM_FailureData tmfd;
		TM_Result	res;

		PushActiveSnapshot(GetLatestSnapshot());
		res = table_tuple_lock(ao->rel, &(ao->local->tts_tid), GetLatestSnapshot(), ao->local,
							   GetCurrentCommandId(false), lockmode, LockWaitBlock, 0, &tmfd);
		PopActiveSnapshot();
		switch (res)
		{
			case TM_Ok:
				break;
			case TM_Updated:
			case TM_Deleted:
				/* changed by another transaction meanwhile: look again */
				goto retry;
			case TM_Invisible:
				elog(ERROR, "attempted to lock invisible tuple");
				break;
			default:
				elog(ERROR, "unexpected table_tuple_lock status: %u", res);
				break;
		}
	}
	index_endscan(scan);
	index_close(idxrel, NoLock);
	return found;
}
