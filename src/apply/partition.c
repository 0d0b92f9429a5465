/*-------------------------------------------------------------------------
 *
 * partition.c
 *		Partitioned targets: rows routed into their partitions, as
 *		PostgreSQL's own apply worker routes them (apply_handle_tuple_
 *		routing).
 *
 * A partitioned target keeps one executor state for the open local
 * transaction, with PostgreSQL's tuple routing (ExecSetupPartitionTuple
 * Routing; ExecFindPartition wants a ModifyTableState, so a bare one is
 * made).  A change is first filled in the partitioned table's row type
 * (apply.c), then:
 *
 *	insert	routed to its partition, converted to that partition's row
 *			type, inserted there;
 *	delete	its old image routed to the partition holding it, the row
 *			found there by the partition's own primary key, deleted;
 *	update	the old image routed and the row found as for a delete; the
 *			new row, filled against it, is updated in place when it still
 *			belongs to that partition, else deleted there and inserted into
 *			the partition it routes to now.
 *
 * Privileges are checked on the partitioned table (as for an INSERT into
 * it); a partition that is not an ordinary table (a foreign table) is an
 * error.  Snapshots COPY into the partitioned table, which routes by
 * itself, after a TRUNCATE of the whole table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/tableam.h"
#include "access/tupconvert.h"
#include "catalog/pg_class.h"
#include "executor/execPartition.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "apply/apply.h"
#include "apply/apply_int.h"

/* the slots kept for one partition in the open executor state */
typedef struct RoutedPart
{
	ResultRelInfo *part;
	TupleTableSlot *leaf;		/* a routed row, in the partition's row type */
	TupleTableSlot *local;		/* the row found there */
} RoutedPart;

/*
 * part_slots: the slots of a partition, made the first time it is routed
 * to (in the executor state's memory, released with it).
 */
static RoutedPart *
part_slots(ApplyOpen *ao, ResultRelInfo *part)
{
	ListCell   *lc;
	RoutedPart *rp;
	MemoryContext old;

	foreach(lc, ao->routed)
	{
		rp = lfirst(lc);
		if (rp->part == part)
			return rp;
	}
	old = MemoryContextSwitchTo(ao->estate->es_query_cxt);
	rp = palloc(sizeof(RoutedPart));
	rp->part = part;
	rp->leaf = table_slot_create(part->ri_RelationDesc, &ao->estate->es_tupleTable);
	rp->local = table_slot_create(part->ri_RelationDesc, &ao->estate->es_tupleTable);
	ao->routed = lappend(ao->routed, rp);
	MemoryContextSwitchTo(old);
	return rp;
}

/*
 * tributary_routing_begin: set up tuple routing for a partitioned target's
 * executor state.
 */
void
tributary_routing_begin(ApplyOpen *ao)
{
	ModifyTableState *mtstate = makeNode(ModifyTableState);

	mtstate->ps.plan = NULL;
	mtstate->ps.state = ao->estate;
	mtstate->operation = CMD_INSERT;
	mtstate->resultRelInfo = ao->rri;
	ao->mtstate = mtstate;
	ao->proute = ExecSetupPartitionTupleRouting(ao->estate, ao->rel);
}

/*
 * tributary_routing_end: release what routing opened (the partitions).
 */
void
tributary_routing_end(ApplyOpen *ao)
{
	if (ao->proute)
		ExecCleanupTupleRouting(ao->mtstate, ao->proute);
	ao->proute = NULL;
	ao->routed = NIL;
	ao->mtstate = NULL;
}

/*
 * tributary_route: the partition a row of the partitioned table's row
 * type belongs to, and the row converted to that partition's row type (in
 * a slot of the partition's; *leaf).  A row no partition accepts is
 * PostgreSQL's error ("no partition of relation ... found for row").
 */
ResultRelInfo *
tributary_route(ApplyOpen *ao, TupleTableSlot *rootslot, TupleTableSlot **leaf)
{
	ResultRelInfo *part;
	Relation	partrel;
	TupleTableSlot *slot;
	TupleConversionMap *map;

	part = ExecFindPartition(ao->mtstate, ao->rri, ao->proute, rootslot, ao->estate);
	partrel = part->ri_RelationDesc;
	if (partrel->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("partition %s of target table %s is not an ordinary table",
						quote_qualified_identifier(get_namespace_name(RelationGetNamespace(partrel)),
												   RelationGetRelationName(partrel)),
						RelationGetRelationName(ao->rel)),
				 errhint("A job writes ordinary tables and their partitions only.")));
	slot = part_slots(ao, part)->leaf;
	map = part->ri_RootToPartitionMap;
	if (map != NULL)
		slot = execute_attr_map_slot(map->attrMap, rootslot, slot);
	else
	{
		ExecCopySlot(slot, rootslot);
		slot_getallattrs(slot);
	}
	*leaf = slot;
	return part;
}

/*
 * tributary_route_find: the row of a partition that a search row (in the
 * partition's row type) designates, by the partition's primary key,
 * locked, in a slot of the partition's (*found); false when there is none.
 */
bool
tributary_route_find(ApplyOpen *ao, ResultRelInfo *part, TupleTableSlot *search,
					 TupleTableSlot **found)
{
	Relation	partrel = part->ri_RelationDesc;
	Oid			idx = RelationGetPrimaryKeyIndex(partrel);
	TupleTableSlot *local = part_slots(ao, part)->local;

	if (!OidIsValid(idx))
		idx = RelationGetReplicaIndex(partrel);
	if (!OidIsValid(idx))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("partition %s of target table %s has no primary key",
						RelationGetRelationName(partrel), RelationGetRelationName(ao->rel)),
				 errhint("Give the partitioned table a primary key: its partitions then have one each.")));
	*found = local;
	return RelationFindReplTupleByIndex(partrel, idx, LockTupleExclusive, search, local);
}

/*
 * tributary_route_to_root: a row of a partition converted to the
 * partitioned table's row type, into rootslot.
 */
void
tributary_route_to_root(ResultRelInfo *part, TupleTableSlot *leafslot, TupleTableSlot *rootslot)
{
	TupleConversionMap *map = ExecGetChildToRootMap(part);

	if (map != NULL)
		execute_attr_map_slot(map->attrMap, leafslot, rootslot);
	else
	{
		ExecCopySlot(rootslot, leafslot);
		slot_getallattrs(rootslot);
	}
}

/*
 * tributary_route_fits: whether a row (in the partition's row type) still
 * belongs to the partition it was in.
 */
bool
tributary_route_fits(ApplyOpen *ao, ResultRelInfo *part, TupleTableSlot *leafslot)
{
	return !part->ri_RelationDesc->rd_rel->relispartition ||
		ExecPartitionCheck(part, leafslot, ao->estate, false);
}
