/*-------------------------------------------------------------------------
 *
 * mysql_fk.c
 *		Foreign keys whose referential actions a MySQL / MariaDB source
 *		applies without logging them.
 *
 * InnoDB carries out ON DELETE / ON UPDATE CASCADE and SET NULL inside the
 * engine: the binlog has the row of the statement (DELETE FROM rental)
 * and not the rows the foreign key changed (payment.rental_id set to
 * NULL).  A target that applies only the binlog keeps the old child rows.
 * This file reads those foreign keys from information_schema:
 *
 *	- for add_table (describe_table's "cascades" and "referenced_by"), so
 *	  that it can say which are applied on the target and which cannot be;
 *	- for check_source, one row per foreign key of a checked table;
 *	- for the worker (referential_actions), which hands them to the apply
 *	  (src/apply/cascade.c) to carry out on the target after each change
 *	  of a parent row, as the source did.
 *
 * SET DEFAULT is parsed by MySQL but refused by InnoDB, so it never acts;
 * RESTRICT and NO ACTION change nothing and are left out.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "source/mysql_source.h"

#include "utils/builtins.h"
#include "utils/json.h"

#include "catalog.h"

/* the foreign keys with actions that touch one table, as child or parent */
#define FK_QUERY \
	"SELECT rc.CONSTRAINT_NAME, rc.CONSTRAINT_SCHEMA, rc.TABLE_NAME, rc.UNIQUE_CONSTRAINT_SCHEMA, " \
	"rc.REFERENCED_TABLE_NAME, rc.DELETE_RULE, rc.UPDATE_RULE, k.COLUMN_NAME, k.REFERENCED_COLUMN_NAME " \
	"FROM information_schema.REFERENTIAL_CONSTRAINTS rc " \
	"JOIN information_schema.KEY_COLUMN_USAGE k ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA " \
	"AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME AND k.TABLE_NAME = rc.TABLE_NAME " \
	"AND k.REFERENCED_TABLE_NAME IS NOT NULL " \
	"WHERE (rc.DELETE_RULE IN ('CASCADE', 'SET NULL') OR rc.UPDATE_RULE IN ('CASCADE', 'SET NULL')) " \
	"AND %s ORDER BY rc.CONSTRAINT_SCHEMA, rc.TABLE_NAME, rc.CONSTRAINT_NAME, k.ORDINAL_POSITION"

/*
 * rule_code: 'c' CASCADE, 'n' SET NULL, 'a' no action (anything else).
 */
static char
rule_code(const char *rule)
{
	if (rule && strcmp(rule, "CASCADE") == 0)
		return 'c';
	if (rule && strcmp(rule, "SET NULL") == 0)
		return 'n';
	return 'a';
}

/*
 * read_actions: the foreign keys the query with condition "where" finds,
 * one TributaryRefAction each.
 */
static List *
read_actions(TributarySource *src, const char *where)
{
	MYSQL_RES  *res = mysrc_query(src, psprintf(FK_QUERY, where));
	MYSQL_ROW	row;
	List	   *actions = NIL;
	TributaryRefAction *cur = NULL;

	while ((row = mysql_fetch_row(res)) != NULL)
	{
		if (row[0] == NULL || row[1] == NULL || row[2] == NULL || row[3] == NULL ||
			row[4] == NULL || row[7] == NULL || row[8] == NULL)
			continue;
		if (cur == NULL || strcmp(cur->name, row[0]) != 0 || strcmp(cur->child_nsp, row[1]) != 0 ||
			strcmp(cur->child_rel, row[2]) != 0)
		{
			cur = palloc0(sizeof(TributaryRefAction));
			cur->name = pstrdup(row[0]);
			cur->child_nsp = pstrdup(row[1]);
			cur->child_rel = pstrdup(row[2]);
			cur->parent_nsp = pstrdup(row[3]);
			cur->parent_rel = pstrdup(row[4]);
			cur->on_delete = rule_code(row[5]);
			cur->on_update = rule_code(row[6]);
			actions = lappend(actions, cur);
		}
		cur->child_columns = lappend(cur->child_columns, pstrdup(row[7]));
		cur->parent_columns = lappend(cur->parent_columns, pstrdup(row[8]));
	}
	mysql_free_result(res);
	return actions;
}

/*
 * rule_text: a rule code as SQL says it.
 */
static const char *
rule_text(char code)
{
	return code == 'c' ? "CASCADE" : code == 'n' ? "SET NULL" : "NO ACTION";
}

/*
 * append_action: one foreign key as a JSON object.
 */
static void
append_action(StringInfo buf, TributaryRefAction *a)
{
	appendStringInfoString(buf, "{\"name\": ");
	escape_json(buf, a->name);
	appendStringInfoString(buf, ", \"child_nsp\": ");
	escape_json(buf, a->child_nsp);
	appendStringInfoString(buf, ", \"child_rel\": ");
	escape_json(buf, a->child_rel);
	appendStringInfoString(buf, ", \"parent_nsp\": ");
	escape_json(buf, a->parent_nsp);
	appendStringInfoString(buf, ", \"parent_rel\": ");
	escape_json(buf, a->parent_rel);
	appendStringInfoString(buf, ", \"on_delete\": ");
	escape_json(buf, rule_text(a->on_delete));
	appendStringInfoString(buf, ", \"on_update\": ");
	escape_json(buf, rule_text(a->on_update));
	appendStringInfoChar(buf, '}');
}

/*
 * mysrc_fk_describe: describe_table's "cascades" (the table's foreign keys
 * with actions) and "referenced_by" (other tables' foreign keys with
 * actions on it), appended to buf as two JSON members.
 */
void
mysrc_fk_describe(TributarySource *src, const char *nsp, const char *rel, StringInfo buf)
{
	char	   *nsp_lit = mysrc_quote(src, nsp);
	char	   *rel_lit = mysrc_quote(src, rel);
	List	   *actions;
	ListCell   *lc;
	bool		first;

	actions = read_actions(src, psprintf("((rc.CONSTRAINT_SCHEMA = %s AND rc.TABLE_NAME = %s) OR "
										 "(rc.UNIQUE_CONSTRAINT_SCHEMA = %s AND rc.REFERENCED_TABLE_NAME = %s))",
										 nsp_lit, rel_lit, nsp_lit, rel_lit));
	appendStringInfoString(buf, ", \"cascades\": [");
	first = true;
	foreach(lc, actions)
	{
		TributaryRefAction *a = lfirst(lc);

		if (strcmp(a->child_nsp, nsp) != 0 || strcmp(a->child_rel, rel) != 0)
			continue;
		if (!first)
			appendStringInfoString(buf, ", ");
		first = false;
		append_action(buf, a);
	}
	appendStringInfoString(buf, "], \"referenced_by\": [");
	first = true;
	foreach(lc, actions)
	{
		TributaryRefAction *a = lfirst(lc);

		if (strcmp(a->parent_nsp, nsp) != 0 || strcmp(a->parent_rel, rel) != 0)
			continue;
		if (!first)
			appendStringInfoString(buf, ", ");
		first = false;
		append_action(buf, a);
	}
	appendStringInfoChar(buf, ']');
}

/*
 * in_names: whether "nsp.rel" is among names (char * "db.table").
 */
static bool
in_names(List *names, const char *nsp, const char *rel)
{
	char	   *q = psprintf("%s.%s", nsp, rel);
	ListCell   *lc;

	foreach(lc, names)
		if (strcmp((char *) lfirst(lc), q) == 0)
			return true;
	return false;
}

/*
 * mysrc_fk_checks: check_source's rows for the foreign keys with actions
 * of the checked tables ("db.table"): fine when the parent is checked
 * too (the job can apply the actions), a failure otherwise.
 */
void
mysrc_fk_checks(TributarySource *src, List *tables, TributaryCheckEmit emit, void *arg)
{
	ListCell   *lc;

	foreach(lc, tables)
	{
		char	   *qualified = (char *) lfirst(lc);
		char	   *dot = strchr(qualified, '.');
		char	   *nsp;
		List	   *actions;
		ListCell   *la;

		if (dot == NULL)
			continue;
		nsp = pnstrdup(qualified, dot - qualified);
		actions = read_actions(src, psprintf("rc.CONSTRAINT_SCHEMA = %s AND rc.TABLE_NAME = %s",
											 mysrc_quote(src, nsp), mysrc_quote(src, dot + 1)));
		foreach(la, actions)
		{
			TributaryRefAction *a = lfirst(la);
			bool		ok = in_names(tables, a->parent_nsp, a->parent_rel);
			char	   *what = psprintf("foreign key %s of [%s] references [%s.%s] ON DELETE %s ON UPDATE %s",
										a->name, qualified, a->parent_nsp, a->parent_rel,
										rule_text(a->on_delete), rule_text(a->on_update));

			emit(arg, psprintf("table %s foreign key %s", qualified, a->name), ok,
				 ok ? psprintf("%s: the source applies it without logging it; pg_tributary applies it on the target", what)
				 : psprintf("%s: the source applies it without logging it, and the referenced table is not checked with it", what),
				 ok ? NULL : psprintf("Sync [%s.%s] in the same job: pg_tributary then applies the foreign key's actions on the target.",
									  a->parent_nsp, a->parent_rel));
		}
	}
}

/*
 * mysrc_referential_actions: the foreign keys with actions whose child is
 * one of the job's tables (TributaryTable), for the worker.
 */
List *
mysrc_referential_actions(TributarySource *src, List *tables)
{
	StringInfoData where;
	ListCell   *lc;

	if (tables == NIL)
		return NIL;
	initStringInfo(&where);
	appendStringInfoString(&where, "(");
	foreach(lc, tables)
	{
		TributaryTable *t = lfirst(lc);

		appendStringInfo(&where, "%s(rc.CONSTRAINT_SCHEMA = %s AND rc.TABLE_NAME = %s)",
						 lc == list_head(tables) ? "" : " OR ",
						 mysrc_quote(src, t->source_nsp), mysrc_quote(src, t->source_rel));
	}
	appendStringInfoString(&where, ")");
	return read_actions(src, where.data);
}
