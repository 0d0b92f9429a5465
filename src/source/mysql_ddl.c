/*-------------------------------------------------------------------------
 *
 * mysql_ddl.c
 *		Recognising DDL statements of the MySQL binlog's QUERY events: which
 *		kind of the job option ddl a statement is, and which tables it
 *		names.
 *
 * Statements read: ALTER [ONLINE|IGNORE] TABLE [IF EXISTS] t <action>,
 * RENAME TABLE a TO b [, ...], DROP [TEMPORARY] TABLE [IF EXISTS] a [, ...],
 * TRUNCATE [TABLE] t, CREATE [OR REPLACE] [TEMPORARY] TABLE [IF NOT EXISTS]
 * t.  Names are plain or backquoted (`` doubles a backquote), qualified or
 * in the statement's default database; comments and blanks are skipped.
 * Each action of an ALTER (they are separated by commas outside
 * parentheses, quotes and comments) has a kind: ADD [COLUMN] (not an
 * index, key or constraint) add_column, DROP [COLUMN] drop_column, RENAME
 * COLUMN a TO b and CHANGE [COLUMN] a b (b another name) rename_column,
 * RENAME [TO] rename_table, MODIFY [COLUMN] a and CHANGE [COLUMN] a a
 * alter_column_type, anything else other, except ALGORITHM= and LOCK=,
 * which only say how the server runs the statement; the column (and new
 * name) of the column kinds (ADD and DROP of one column included) is read
 * too, for ddl apply.  Every action is reported, so that "ADD INDEX i (a),
 * ADD COLUMN c" goes to the policy for add_column too, not only to the
 * one for other.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "source/mysql_source.h"

/*
 * skip_space: past blanks and comments of a statement.  The body of an
 * executable comment ("/" "*!50100 ..." or MariaDB's "/" "*M!100100 ...",
 * up to its end marker) is code, as the server runs it: its markers are
 * skipped, not its text.  A "--" comment needs a blank or control
 * character after it, as MySQL's.
 */
static const char *
skip_space(const char *p)
{
	for (;;)
	{
		while (*p && isspace((unsigned char) *p))
			p++;
		if (p[0] == '/' && p[1] == '*' && (p[2] == '!' || (p[2] == 'M' && p[3] == '!')))
		{
			p += (p[2] == '!') ? 3 : 4;
			while (isdigit((unsigned char) *p))
				p++;
		}
		else if (p[0] == '*' && p[1] == '/')
			p += 2;				/* the end of an executable comment */
		else if (p[0] == '/' && p[1] == '*')
		{
			const char *e = strstr(p + 2, "*/");

			if (e == NULL)
				return p + strlen(p);
			p = e + 2;
		}
		else if ((p[0] == '-' && p[1] == '-' &&
				  (p[2] == '\0' || isspace((unsigned char) p[2]) || iscntrl((unsigned char) p[2]))) ||
				 p[0] == '#')
		{
			while (*p && *p != '\n')
				p++;
		}
		else
			return p;
	}
}

/*
 * take_word: whether the statement continues with a keyword (then skipped).
 */
static bool
take_word(const char **p, const char *word)
{
	size_t		n = strlen(word);
	const char *s = skip_space(*p);

	if (pg_strncasecmp(s, word, n) == 0 && !isalnum((unsigned char) s[n]) && s[n] != '_')
	{
		*p = s + n;
		return true;
	}
	return false;
}

/*
 * take_ident: an identifier, backquoted or plain.
 */
static char *
take_ident(const char **p)
{
	const char *s = skip_space(*p);
	StringInfoData id;

	initStringInfo(&id);
	if (*s == '`')
	{
		s++;
		while (*s)
		{
			if (s[0] == '`' && s[1] == '`')
			{
				appendStringInfoChar(&id, '`');
				s += 2;
			}
			else if (*s == '`')
			{
				s++;
				break;
			}
			else
				appendStringInfoChar(&id, *s++);
		}
	}
	else
		while (*s && (isalnum((unsigned char) *s) || *s == '_' || *s == '$' || (unsigned char) *s >= 0x80))
			appendStringInfoChar(&id, *s++);
	*p = s;
	return id.len > 0 ? id.data : NULL;
}

/*
 * take_table: a table name, qualified or in the statement's database.
 */
static char *
take_table(const char **p, const char *db)
{
	char	   *a = take_ident(p);
	const char *s;

	if (a == NULL)
		return NULL;
	s = skip_space(*p);
	if (*s == '.')
	{
		char	   *b;

		*p = s + 1;
		b = take_ident(p);
		return b ? psprintf("%s.%s", a, b) : NULL;
	}
	return psprintf("%s.%s", db ? db : "", a);
}

/*
 * table options an ALTER TABLE may set that change neither columns nor
 * rows (ENGINE only for engines that keep every row: not BLACKHOLE)
 */
static const char *const inert_options[] = {
	"COMMENT", "AUTO_INCREMENT", "ROW_FORMAT", "KEY_BLOCK_SIZE", "STATS_PERSISTENT",
	"STATS_AUTO_RECALC", "STATS_SAMPLE_PAGES", "CHECKSUM", "PAGE_CHECKSUM", "MAX_ROWS", "MIN_ROWS",
	"PACK_KEYS", "AVG_ROW_LENGTH", "DELAY_KEY_WRITE", "TRANSACTIONAL", "FORCE", "ORDER",
	"ENABLE", "DISABLE", "CHARACTER", "CHARSET", "COLLATE", NULL
};

/*
 * alter_kind: the kind of one ALTER TABLE action, with the column it
 * names (*column) and, for a rename, the new name (*new_name).  *inert: an
 * action of kind other that changes neither the table's columns nor its
 * rows as the binlog logs them (an index, a CHECK constraint, a column
 * default, a table option), which ddl apply can pass; keys, foreign keys
 * (whose actions the job carries out), partitions (DROP and TRUNCATE
 * PARTITION remove rows without logging them) and character set
 * conversions are not.
 */
static const char *
alter_kind(const char *p, const char *db, char **column, char **new_name, bool *inert)
{
	*inert = false;
	if (take_word(&p, "ADD"))
	{
		if (!take_word(&p, "COLUMN"))
		{
			if (take_word(&p, "INDEX") || take_word(&p, "KEY") || take_word(&p, "FULLTEXT") ||
				take_word(&p, "SPATIAL") || take_word(&p, "UNIQUE") || take_word(&p, "CHECK"))
			{
				*inert = true;
				return "other";
			}
			if (take_word(&p, "CONSTRAINT"))
			{
				const char *q = p;

				/* the constraint's name is optional */
				if (!(take_word(&q, "UNIQUE") || take_word(&q, "CHECK") ||
					  take_word(&q, "PRIMARY") || take_word(&q, "FOREIGN")))
					(void) take_ident(&p);
				*inert = (take_word(&p, "UNIQUE") || take_word(&p, "CHECK"));
				return "other";
			}
			if (take_word(&p, "PRIMARY") || take_word(&p, "FOREIGN") || take_word(&p, "PARTITION") ||
				take_word(&p, "PERIOD") || take_word(&p, "SYSTEM"))
				return "other";
		}
		/* one column by name; a parenthesized list names none */
		(void) (take_word(&p, "IF") && take_word(&p, "NOT") && take_word(&p, "EXISTS"));
		if (*skip_space(p) != '(')
			*column = take_ident(&p);
		return "add_column";
	}
	if (take_word(&p, "DROP"))
	{
		if (!take_word(&p, "COLUMN"))
		{
			if (take_word(&p, "INDEX") || take_word(&p, "KEY") || take_word(&p, "CHECK"))
			{
				*inert = true;
				return "other";
			}
			if (take_word(&p, "PRIMARY") || take_word(&p, "FOREIGN") || take_word(&p, "CONSTRAINT") ||
				take_word(&p, "PARTITION") || take_word(&p, "PERIOD") || take_word(&p, "SYSTEM"))
				return "other";
		}
		(void) (take_word(&p, "IF") && take_word(&p, "EXISTS"));
		*column = take_ident(&p);
		return "drop_column";
	}
	if (take_word(&p, "ALTER"))
	{
		/* ALTER INDEX i [IN]VISIBLE, ALTER [COLUMN] c SET|DROP DEFAULT */
		if (take_word(&p, "INDEX") || take_word(&p, "KEY"))
			*inert = true;
		else
		{
			(void) take_word(&p, "COLUMN");
			(void) (take_word(&p, "IF") && take_word(&p, "EXISTS"));
			(void) take_ident(&p);
			*inert = ((take_word(&p, "SET") || take_word(&p, "DROP")) && take_word(&p, "DEFAULT"));
		}
		return "other";
	}
	if (take_word(&p, "ENGINE"))
	{
		static const char *const keeping[] = {"InnoDB", "MyISAM", "Aria", "MEMORY", "HEAP", "ROCKSDB", NULL};
		char	   *engine;

		p = skip_space(p);
		if (*p == '=')
			p++;
		engine = take_ident(&p);
		for (int i = 0; engine && keeping[i]; i++)
			if (pg_strcasecmp(engine, keeping[i]) == 0)
				*inert = true;
		return "other";
	}
	{
		const char *q = p;

		(void) take_word(&q, "DEFAULT");
		for (int i = 0; inert_options[i]; i++)
			if (take_word(&q, inert_options[i]))
			{
				*inert = true;
				return "other";
			}
	}
	if (take_word(&p, "RENAME"))
	{
		if (take_word(&p, "COLUMN"))
		{
			(void) (take_word(&p, "IF") && take_word(&p, "EXISTS"));
			*column = take_ident(&p);
			if (take_word(&p, "TO"))
				*new_name = take_ident(&p);
			return "rename_column";
		}
		if (take_word(&p, "INDEX") || take_word(&p, "KEY"))
		{
			*inert = true;
			return "other";
		}
		(void) (take_word(&p, "TO") || take_word(&p, "AS"));
		*new_name = take_table(&p, db);
		return "rename_table";
	}
	if (take_word(&p, "CHANGE"))
	{
		(void) take_word(&p, "COLUMN");
		(void) (take_word(&p, "IF") && take_word(&p, "EXISTS"));
		*column = take_ident(&p);
		*new_name = take_ident(&p);
		/* MySQL compares column names without regard to case */
		if (*column && *new_name && pg_strcasecmp(*column, *new_name) == 0)
		{
			*new_name = NULL;
			return "alter_column_type";
		}
		return "rename_column";
	}
	if (take_word(&p, "MODIFY"))
	{
		(void) take_word(&p, "COLUMN");
		(void) (take_word(&p, "IF") && take_word(&p, "EXISTS"));
		*column = take_ident(&p);
		return "alter_column_type";
	}
	return "other";
}

/*
 * next_action: the end of the ALTER action starting at p: the comma that
 * ends it (outside parentheses, quotes and comments) or the statement's
 * end.
 */
static const char *
next_action(const char *p)
{
	int			depth = 0;

	while (*p)
	{
		const char *s = skip_space(p);

		if (s != p)
		{
			p = s;
			continue;
		}
		if (*p == '\'' || *p == '"' || *p == '`')
		{
			char		q = *p++;

			while (*p && *p != q)
				p += (p[0] == '\\' && p[1] != '\0' && q != '`') ? 2 : 1;
			if (*p)
				p++;
			continue;
		}
		if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		else if (*p == ',' && depth == 0)
			return p;
		p++;
	}
	return p;
}

/*
 * alter_actions: the actions of an ALTER TABLE statement after its
 * table name (p), as MyDdlAction, in order, with a rename of the table
 * last (the other actions name the table by its old name); options that
 * change nothing (ALGORITHM=, LOCK=) left out.  ignore: ALTER IGNORE
 * TABLE, under which no action is inert.
 */
static List *
alter_actions(const char *p, const char *db, bool ignore)
{
	List	   *actions = NIL;
	MyDdlAction *rename = NULL;

	for (;;)
	{
		const char *end = next_action(p);
		char	   *text = pnstrdup(p, end - p);
		const char *t = text;

		if (!(take_word(&t, "ALGORITHM") || take_word(&t, "LOCK")) && *skip_space(text) != '\0')
		{
			MyDdlAction *a = palloc0(sizeof(MyDdlAction));

			a->kind = alter_kind(text, db, &a->column, &a->new_name, &a->inert);
			/* ALTER IGNORE drops the rows a new unique key refuses, unlogged */
			if (ignore)
				a->inert = false;
			if (strcmp(a->kind, "rename_table") == 0)
				rename = a;
			else
				actions = lappend(actions, a);
		}
		if (*end != ',')
			break;
		p = end + 1;
	}
	if (rename)
		actions = lappend(actions, rename);
	if (actions == NIL)
	{
		MyDdlAction *a = palloc0(sizeof(MyDdlAction));

		a->kind = "other";
		actions = list_make1(a);
	}
	return actions;
}

/*
 * mysrc_classify_ddl: the kind of a DDL statement (a kind of the job
 * option ddl) and the tables it names as "db.table", or NULL when it is
 * not DDL on tables.  *actions: what an ALTER TABLE does, as
 * MyDdlAction (the kind returned is its first's); NIL for other
 * statements.  The tables of rename_table come in pairs, old name then
 * new name; an ALTER TABLE names its table only, its rename action the
 * new name.
 */
const char *
mysrc_classify_ddl(const char *query, const char *db, List **tables, List **actions)
{
	const char *p = query;

	*tables = NIL;
	*actions = NIL;
	if (take_word(&p, "ALTER"))
	{
		char	   *t;
		bool		ignore = false;

		for (;;)
		{
			if (take_word(&p, "IGNORE"))
				ignore = true;
			else if (!take_word(&p, "ONLINE"))
				break;
		}
		if (!take_word(&p, "TABLE"))
			return NULL;
		(void) (take_word(&p, "IF") && take_word(&p, "EXISTS"));
		t = take_table(&p, db);
		if (t == NULL)
			return NULL;
		*tables = list_make1(t);
		/* MariaDB's lock wait clause */
		if (take_word(&p, "WAIT"))
		{
			p = skip_space(p);
			while (isdigit((unsigned char) *p) || *p == '.')
				p++;
		}
		else
			(void) take_word(&p, "NOWAIT");
		*actions = alter_actions(p, db, ignore);
		return ((MyDdlAction *) linitial(*actions))->kind;
	}
	if (take_word(&p, "RENAME"))
	{
		if (!take_word(&p, "TABLE"))
			return NULL;
		for (;;)
		{
			char	   *t = take_table(&p, db);

			if (t == NULL)
				break;
			if (!take_word(&p, "TO"))
				break;
			{
				char	   *to = take_table(&p, db);

				if (to == NULL)
					break;
				*tables = lappend(*tables, t);
				*tables = lappend(*tables, to);
			}
			p = skip_space(p);
			if (*p != ',')
				break;
			p++;
		}
		return "rename_table";
	}
	if (take_word(&p, "DROP"))
	{
		(void) take_word(&p, "TEMPORARY");
		if (!take_word(&p, "TABLE"))
			return NULL;
		(void) (take_word(&p, "IF") && take_word(&p, "EXISTS"));
		for (;;)
		{
			char	   *t = take_table(&p, db);

			if (t == NULL)
				break;
			*tables = lappend(*tables, t);
			p = skip_space(p);
			if (*p != ',')
				break;
			p++;
		}
		return "drop_table";
	}
	if (take_word(&p, "TRUNCATE"))
	{
		char	   *t;

		(void) take_word(&p, "TABLE");
		t = take_table(&p, db);
		if (t)
			*tables = list_make1(t);
		return "truncate_table";
	}
	if (take_word(&p, "CREATE"))
	{
		(void) (take_word(&p, "OR") && take_word(&p, "REPLACE"));
		(void) take_word(&p, "TEMPORARY");
		if (!take_word(&p, "TABLE"))
			return NULL;
		(void) (take_word(&p, "IF") && take_word(&p, "NOT") && take_word(&p, "EXISTS"));
		{
			char	   *t = take_table(&p, db);

			if (t)
				*tables = list_make1(t);
		}
		return "create_table";
	}
	return NULL;
}
