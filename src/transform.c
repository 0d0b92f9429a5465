/*-------------------------------------------------------------------------
 *
 * transform.c
 *		Column expressions and row filters of a job table: parsed and
 *		checked on the target when the table is added, compiled and
 *		evaluated on the target for every row.  They are never sent to a
 *		source as SQL text.
 *
 * A transform is one PostgreSQL expression over the source row's columns,
 * which it names as column references (MySQL columns have their mapped
 * PostgreSQL types).  The text is parsed as the target list of
 * "SELECT <text>" and must be exactly one unnamed expression: no FROM,
 * WHERE, other clauses or statements, so text that tries to end the
 * expression early is a syntax error or a refusal, never a statement.
 * Column references become parameters (as SQL functions resolve their
 * argument names), so nothing but the source row can be named.  Refused:
 * subqueries, aggregates, window and set-returning functions, and
 * volatile functions (a row must give the same result whenever it is
 * evaluated).  Parsing, planning and the EXECUTE checks run as the job's
 * owner, in a security-restricted operation, with search_path pg_catalog:
 * functions of other schemas are named with their schema.
 *
 * tributary._transform_check is add_table's check; the job worker
 * compiles a table's transforms (tributary_transform_compile) and
 * evaluates them row by row (tributary_transform_eval).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_collate.h"
#include "parser/parse_expr.h"
#include "parser/parse_node.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "security.h"
#include "transform.h"

/* what the parser parses: the transform's text behind this prefix */
#define TRANSFORM_PREFIX	"SELECT "

/* the transform being parsed, for the error callback */
typedef struct TransformErrorArg
{
	const char *text;
	const char *what;
} TransformErrorArg;

/* the source columns an expression may name */
typedef struct SourceColumns
{
	int			n;
	char	  **names;
	char	  **types;			/* the target's spelling, NULL: no such type here */
	Oid		   *typids;
	int32	   *typmods;
	const char *table;			/* "schema.table", for messages */
	Bitmapset  *refs;			/* columns referenced so far (0-based) */
	TransformErrorArg *errarg;	/* the transform being parsed */
} SourceColumns;

/*
 * refuse_transform: raise the error for a transform that is not allowed.
 */
static void
pg_attribute_noreturn()
refuse_transform(const char *what, const char *why, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s %s", what, why),
			 errdetail("Column expressions and filters are single PostgreSQL expressions over the source row, evaluated on the target."),
			 hint ? errhint("%s", hint) : 0));
}

/*
 * source_columns_init: resolve the types of the source columns.
 */
static void
source_columns_init(SourceColumns *sc)
{
	sc->typids = palloc0(sizeof(Oid) * Max(sc->n, 1));
	sc->typmods = palloc0(sizeof(int32) * Max(sc->n, 1));
	for (int i = 0; i < sc->n; i++)
		if (sc->types[i])
			tributary_parse_type(sc->types[i], NULL, &sc->typids[i], &sc->typmods[i]);
	sc->refs = NULL;
}

/*
 * source_column_ref: the parser's column reference hook: a source column
 * name becomes the parameter of that column; anything else is an error.
 */
static Node *
source_column_ref(ParseState *pstate, ColumnRef *cref)
{
	SourceColumns *sc = (SourceColumns *) pstate->p_ref_hook_state;
	Node	   *field = linitial(cref->fields);
	const char *name;
	Param	   *param;

	if (pstate->parentParseState != NULL)
		refuse_transform(sc->errarg->what, "uses a subquery",
						 "Expressions see only the source row.");
	if (list_length(cref->fields) != 1 || !IsA(field, String))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column reference \"%s\" is not a source column name", NameListToString(cref->fields)),
				 errdetail("Expressions name the columns of the source row, without a table name.")));
	name = strVal(field);
	for (int i = 0; i < sc->n; i++)
	{
		if (strcmp(sc->names[i], name) != 0)
			continue;
		if (!OidIsValid(sc->typids[i]))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("source column \"%s\" of [%s] has a type this database does not have", name, sc->table),
					 errhint("Create the type here, or leave the column out of expressions and filters.")));
		param = makeNode(Param);
		param->paramkind = PARAM_EXTERN;
		param->paramid = i + 1;
		param->paramtype = sc->typids[i];
		param->paramtypmod = sc->typmods[i];
		param->paramcollid = get_typcollation(sc->typids[i]);
		param->location = cref->location;
		sc->refs = bms_add_member(sc->refs, i);
		return (Node *) param;
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("source table [%s] has no column \"%s\"", sc->table, name),
			 errhint("Name source columns as they are spelled on the source; quote names with capitals or spaces.")));
	return NULL;				/* keep compiler quiet */
}

/*
 * transform_error_callback: point syntax and parse errors into the
 * transform's own text (as a function body's errors are shown), not into
 * the statement that called add_table, and name the transform.
 */
static void
transform_error_callback(void *arg)
{
	TransformErrorArg *a = (TransformErrorArg *) arg;
	int			pos = geterrposition();

	if (pos > 0)
	{
		errposition(0);
		internalerrposition(Max(pos - (int) strlen(TRANSFORM_PREFIX), 1));
		internalerrquery(a->text);
	}
	errcontext("%s", a->what);
}

/*
 * single_expression: the one unnamed expression of "SELECT <text>", or
 * NULL when the text is anything else (a FROM, a second target, a second
 * statement, a name: then *named is set).  A syntax error raises as the
 * parser raises it.
 */
static Node *
single_expression(const char *text, bool *named)
{
	List	   *raw = raw_parser(psprintf(TRANSFORM_PREFIX "%s", text), RAW_PARSE_DEFAULT);
	SelectStmt *s;
	ResTarget  *rt;

	if (list_length(raw) != 1 || !IsA(((RawStmt *) linitial(raw))->stmt, SelectStmt))
		return NULL;
	s = (SelectStmt *) ((RawStmt *) linitial(raw))->stmt;
	if (s->distinctClause || s->intoClause || s->fromClause || s->whereClause ||
		s->groupClause || s->havingClause || s->windowClause || s->valuesLists ||
		s->sortClause || s->limitOffset || s->limitCount || s->lockingClause ||
		s->withClause || s->op != SETOP_NONE || list_length(s->targetList) != 1)
		return NULL;
	rt = (ResTarget *) linitial(s->targetList);
	if (rt->name != NULL || rt->indirection != NIL)
	{
		*named = true;
		return NULL;
	}
	return rt->val;
}

/*
 * raw_expression: the expression of a transform's text, which must be
 * exactly one unnamed expression of "SELECT <text>".
 */
static Node *
raw_expression(const char *text, const char *what)
{
	bool		named = false;
	Node	   *node = single_expression(text, &named);

	if (node == NULL)
		refuse_transform(what, "is not a single expression",
						 named ? "Write the expression without AS." :
						 "Write an expression only, such as upper(name) or qty > 2.");
	return node;
}

PG_FUNCTION_INFO_V1(tributary_check_generation_expr);

/*
 * tributary_check_generation_expr(what, expr): raise unless an expression
 * a source printed (a generated column's expression, a domain's check, a
 * type name as the cast "NULL::type") is one plain expression, so that
 * add_table may write it into a statement on the target (text from a
 * source is never trusted to be only what it seems).  what names it.
 */
Datum
tributary_check_generation_expr(PG_FUNCTION_ARGS)
{
	char	   *what = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *expr = text_to_cstring(PG_GETARG_TEXT_PP(1));

	bool		named = false;
	Node	   *node = NULL;
	MemoryContext cxt = CurrentMemoryContext;

	/* a syntax error is the same refusal (the parser holds no resources) */
	PG_TRY();
	{
		node = single_expression(psprintf("(%s)", expr), &named);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		node = NULL;
	}
	PG_END_TRY();
	if (node == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s, as the source describes it, is not a single expression", what),
				 errdetail("The source describes it as \"%s\".", expr),
				 errhint("Create the target table yourself.")));
	PG_RETURN_VOID();
}

/*
 * change_meta_walker: whether an expression calls tributary.source_op(),
 * source_commit_time() or source_position(), which describe the change
 * being applied rather than the row.
 */
static bool
change_meta_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, FuncExpr))
	{
		Oid			funcid = ((FuncExpr *) node)->funcid;
		char	   *name = get_func_name(funcid);
		Oid			nsp = get_func_namespace(funcid);

		if (name != NULL && nsp == get_namespace_oid("tributary", true) &&
			(strcmp(name, "source_op") == 0 || strcmp(name, "source_commit_time") == 0 ||
			 strcmp(name, "source_position") == 0))
			return true;
	}
	return expression_tree_walker(node, change_meta_walker, context);
}

/*
 * transform_parse: parse, check and plan one transform over the source
 * columns.  A filter is coerced to boolean; an expression to the target
 * column's type when target_type is valid.  Referenced columns are added
 * to sc->refs.
 */
static Expr *
transform_parse(SourceColumns *sc, const char *text, const char *what, bool is_filter,
				Oid target_type, int32 target_typmod)
{
	ParseState *pstate = make_parsestate(NULL);
	TransformErrorArg errarg = {text, what};
	ErrorContextCallback errcb;
	Node	   *node;
	Oid			type;
	Expr	   *expr;

	errcb.callback = transform_error_callback;
	errcb.arg = &errarg;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	node = raw_expression(text, what);
	sc->errarg = &errarg;
	pstate->p_sourcetext = psprintf(TRANSFORM_PREFIX "%s", text);
	pstate->p_pre_columnref_hook = source_column_ref;
	pstate->p_ref_hook_state = sc;
	node = transformExpr(pstate, node, EXPR_KIND_SELECT_TARGET);
	if (pstate->p_hasSubLinks)
		refuse_transform(what, "uses a subquery", "Expressions see only the source row.");
	if (pstate->p_hasAggs || pstate->p_hasWindowFuncs)
		refuse_transform(what, "uses an aggregate or window function", NULL);
	if (pstate->p_hasTargetSRFs)
		refuse_transform(what, "uses a set-returning function", NULL);
	/*
	 * an update's old row is judged with the update's metadata, not the
	 * one it was written with: a filter on them cannot be kept exactly
	 */
	if (is_filter && change_meta_walker(node, NULL))
		refuse_transform(what, "calls tributary.source_op(), source_commit_time() or source_position()",
						 "A filter decides by the row's values (and tributary.source_table()); an update would be judged by its own operation, not by the one that wrote the row.");
	if (is_filter)
		node = coerce_to_boolean(pstate, node, "filter");
	else if (OidIsValid(target_type))
	{
		type = exprType(node);
		node = coerce_to_target_type(pstate, node, type, target_type, target_typmod,
									 COERCION_ASSIGNMENT, COERCE_IMPLICIT_CAST, -1);
		if (node == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("%s is of type %s, which the column's type %s cannot take",
							what, format_type_be(type), format_type_with_typemod(target_type, target_typmod)),
					 errhint("Cast the expression to the column's type.")));
	}
	assign_expr_collations(pstate, node);
	expr = expression_planner((Expr *) node);
	if (contain_volatile_functions((Node *) expr))
		refuse_transform(what, "calls a volatile function",
						 "Use immutable or stable functions: a row must give the same result in the snapshot and in the stream.");
	free_parsestate(pstate);
	error_context_stack = errcb.previous;
	return expr;
}

/*
 * enter_owner: parse and evaluate as the job's owner, in a
 * security-restricted operation, with only pg_catalog in search_path.
 * Returns the GUC nest level to pass to leave_owner.
 */
static int
enter_owner(Oid owner, TributaryUserSave *save)
{
	int			nestlevel;

	GetUserIdAndSecContext(&save->userid, &save->sec);
	if (OidIsValid(owner))
		SetUserIdAndSecContext(owner, save->sec | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

/*
 * leave_owner: undo enter_owner, and every setting the owner's code made
 * meanwhile (a function may set search_path for the session; the caller,
 * an API body running as the extension's owner, must not inherit it).
 */
static void
leave_owner(int nestlevel, TributaryUserSave save)
{
	AtEOXact_GUC(false, nestlevel);
	SetUserIdAndSecContext(save.userid, save.sec);
}

/*
 * jsonb_field: a string field of a jsonb object, or NULL.
 */
static char *
jsonb_field(Jsonb *obj, const char *key)
{
	JsonbValue	k;
	JsonbValue *v;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(&obj->root, JB_FOBJECT, &k);
	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * jsonb_objects: the elements of a jsonb array of objects.
 */
static List *
jsonb_objects(Jsonb *arr)
{
	List	   *result = NIL;
	JsonbIterator *it = JsonbIteratorInit(&arr->root);
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_ELEM && v.type == jbvBinary)
			result = lappend(result, JsonbValueToJsonb(&v));
	return result;
}

/*
 * target_column_type: the type of a column of the target, or an error.
 */
static void
target_column_type(Relation rel, const char *column, Oid *type, int32 *typmod)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), column) == 0)
		{
			*type = att->atttypid;
			*typmod = att->atttypmod;
			return;
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("target table %s has no column \"%s\"",
					quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
											   RelationGetRelationName(rel)), column)));
}

PG_FUNCTION_INFO_V1(tributary_transform_check);

/*
 * tributary_transform_check: add_table's check of a table's transforms:
 * (source columns [{name, type}], copied columns [{target, source|expr}],
 * filter, target table or NULL, job owner, "schema.table").  Every
 * expression and the filter are parsed and checked as described above,
 * and initialized for execution as the owner (EXECUTE privileges).
 * Returns {"read": [{name, type}], "types": {target column: type}}: the
 * source columns to read (copied or referenced, in source order) and the
 * type of each expression column (for tables add_table creates).
 */
Datum
tributary_transform_check(PG_FUNCTION_ARGS)
{
	Jsonb	   *source = PG_GETARG_JSONB_P(0);
	Jsonb	   *columns = PG_GETARG_JSONB_P(1);
	char	   *filter = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	Oid			target = PG_ARGISNULL(3) ? InvalidOid : PG_GETARG_OID(3);
	Oid			owner = PG_GETARG_OID(4);
	List	   *srcs = jsonb_objects(source);
	List	   *cols = jsonb_objects(columns);
	SourceColumns sc;
	Relation	rel = NULL;
	StringInfoData types;
	StringInfoData read;
	TributaryUserSave save;
	int			nestlevel;
	ListCell   *lc;

	sc.n = list_length(srcs);
	sc.names = palloc(sizeof(char *) * Max(sc.n, 1));
	sc.types = palloc(sizeof(char *) * Max(sc.n, 1));
	sc.table = text_to_cstring(PG_GETARG_TEXT_PP(5));
	foreach(lc, srcs)
	{
		sc.names[foreach_current_index(lc)] = jsonb_field(lfirst(lc), "name");
		sc.types[foreach_current_index(lc)] = jsonb_field(lfirst(lc), "type");
	}

	nestlevel = enter_owner(owner, &save);
	source_columns_init(&sc);
	if (OidIsValid(target))
		rel = table_open(target, AccessShareLock);
	initStringInfo(&types);
	appendStringInfoChar(&types, '{');
	foreach(lc, cols)
	{
		char	   *tcol = jsonb_field(lfirst(lc), "target");
		char	   *src = jsonb_field(lfirst(lc), "source");
		char	   *expr_text = jsonb_field(lfirst(lc), "expr");
		Oid			type = InvalidOid;
		int32		typmod = -1;
		Expr	   *expr;

		if (src)
		{
			for (int i = 0; i < sc.n; i++)
				if (strcmp(sc.names[i], src) == 0)
					sc.refs = bms_add_member(sc.refs, i);
			continue;
		}
		if (expr_text == NULL)
			continue;
		if (rel)
			target_column_type(rel, tcol, &type, &typmod);
		expr = transform_parse(&sc, expr_text, psprintf("expression for target column \"%s\"", tcol),
							   false, type, typmod);
		(void) ExecInitExpr(expr, NULL);	/* EXECUTE privileges of the owner */
		if (types.len > 1)
			appendStringInfoString(&types, ", ");
		escape_json(&types, tcol);
		appendStringInfoString(&types, ": ");
		escape_json(&types, format_type_with_typemod(exprType((Node *) expr), exprTypmod((Node *) expr)));
	}
	appendStringInfoChar(&types, '}');
	if (filter)
		(void) ExecInitExpr(transform_parse(&sc, filter, "filter", true, InvalidOid, -1), NULL);
	if (rel)
		table_close(rel, AccessShareLock);
	leave_owner(nestlevel, save);

	initStringInfo(&read);
	appendStringInfoString(&read, "{\"read\": [");
	for (int i = 0, n = 0; i < sc.n; i++)
	{
		if (!bms_is_member(i, sc.refs))
			continue;
		appendStringInfoString(&read, n++ ? ", {\"name\": " : "{\"name\": ");
		escape_json(&read, sc.names[i]);
		appendStringInfoString(&read, ", \"type\": ");
		if (sc.types[i] && OidIsValid(sc.typids[i]))
			escape_json(&read, sc.types[i]);
		else
			appendStringInfoString(&read, "null");
		appendStringInfoChar(&read, '}');
	}
	appendStringInfo(&read, "], \"types\": %s}", types.data);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(read.data)));
}

/*
 * tributary_transform_compile: a table's transforms ready to evaluate, in
 * the current memory context and transaction: each expression is parsed
 * again (so a type or function changed since add_table is noticed),
 * coerced to its target column's type and initialized as the job's owner
 * (the worker's identity).
 */
TributaryTransform *
tributary_transform_compile(TributaryTable *t)
{
	TributaryTransform *tr = palloc0(sizeof(TributaryTransform));
	SourceColumns sc;
	Relation	rel;
	TributaryUserSave save;
	int			nestlevel;

	sc.n = t->nread;
	sc.names = palloc(sizeof(char *) * Max(sc.n, 1));
	sc.types = palloc(sizeof(char *) * Max(sc.n, 1));
	sc.table = psprintf("%s.%s", t->source_nsp, t->source_rel);
	for (int i = 0; i < sc.n; i++)
	{
		sc.names[i] = t->read[i].name;
		sc.types[i] = t->read[i].type;
	}

	nestlevel = enter_owner(InvalidOid, &save);
	source_columns_init(&sc);
	tr->nread = sc.n;
	tr->used = palloc0(sizeof(bool) * Max(sc.n, 1));
	tr->in_fns = palloc0(sizeof(FmgrInfo) * Max(sc.n, 1));
	tr->in_ioparams = palloc0(sizeof(Oid) * Max(sc.n, 1));
	tr->in_typmods = palloc0(sizeof(int32) * Max(sc.n, 1));
	tr->params = makeParamList(sc.n);
	tr->econtext = CreateStandaloneExprContext();
	tr->econtext->ecxt_param_list_info = tr->params;

	rel = table_openrv(makeRangeVar(t->target_nsp, t->target_rel, -1), AccessShareLock);
	tr->nout = t->ncolumns;
	tr->out_field = palloc(sizeof(int) * Max(t->ncolumns, 1));
	tr->out_exprs = palloc0(sizeof(ExprState *) * Max(t->ncolumns, 1));
	tr->out_fns = palloc0(sizeof(FmgrInfo) * Max(t->ncolumns, 1));
	for (int c = 0; c < t->ncolumns; c++)
	{
		TributaryColumn *col = &t->columns[c];
		Oid			type;
		int32		typmod;
		Oid			outfn;
		bool		varlena;

		tr->out_field[c] = -1;
		if (col->source)
		{
			for (int i = 0; i < sc.n; i++)
				if (strcmp(sc.names[i], col->source) == 0)
					tr->out_field[c] = i;
			if (tr->out_field[c] < 0)
				elog(ERROR, "source column \"%s\" is not read", col->source);
			continue;
		}
		target_column_type(rel, col->target, &type, &typmod);
		tr->out_exprs[c] = ExecInitExpr(transform_parse(&sc, col->expr,
														psprintf("expression for target column \"%s\"", col->target),
														false, type, typmod), NULL);
		getTypeOutputInfo(type, &outfn, &varlena);
		fmgr_info(outfn, &tr->out_fns[c]);
	}
	table_close(rel, AccessShareLock);
	if (t->filter)
		tr->filter = ExecInitExpr(transform_parse(&sc, t->filter, "filter", true, InvalidOid, -1), NULL);
	leave_owner(nestlevel, save);

	/* input functions of the columns that expressions use */
	for (int i = 0; i < sc.n; i++)
	{
		Oid			infn;

		if (!bms_is_member(i, sc.refs))
			continue;
		tr->used[i] = true;
		getTypeInputInfo(sc.typids[i], &infn, &tr->in_ioparams[i]);
		fmgr_info(infn, &tr->in_fns[i]);
		tr->in_typmods[i] = sc.typmods[i];
		tr->params->params[i].ptype = sc.typids[i];
		tr->params->params[i].pflags = PARAM_FLAG_CONST;
	}
	return tr;
}

/*
 * tributary_transform_begin_row: start evaluating a new row: what the
 * previous row's evaluation made is freed.  The caller then sets the
 * used parameters (tr->params), allocating their values in the per-row
 * memory (tr->econtext->ecxt_per_tuple_memory), which lasts until the
 * next call.
 */
void
tributary_transform_begin_row(TributaryTransform *tr)
{
	ResetExprContext(tr->econtext);
}

/*
 * tributary_transform_filter: whether the row in the parameters passes
 * the table's filter (every row does when it has none); NULL is false, as
 * in a WHERE clause.
 */
bool
tributary_transform_filter(TributaryTransform *tr)
{
	bool		isnull;
	Datum		pass;

	if (tr->filter == NULL)
		return true;
	pass = ExecEvalExprSwitchContext(tr->filter, tr->econtext, &isnull);
	return !isnull && DatumGetBool(pass);
}

/*
 * tributary_transform_outputs: the value of every expression column for
 * the row in the parameters (plain columns are left to the caller), in
 * the per-row memory.
 */
void
tributary_transform_outputs(TributaryTransform *tr, Datum *out, bool *out_nulls)
{
	for (int c = 0; c < tr->nout; c++)
		if (tr->out_exprs[c])
			out[c] = ExecEvalExprSwitchContext(tr->out_exprs[c], tr->econtext, &out_nulls[c]);
}

/*
 * tributary_transform_eval: evaluate one source row (the text of each read
 * column, NULL for SQL NULL; only used columns are looked at).  Returns
 * false when the filter drops the row; else out/out_nulls hold the value
 * of every expression column (plain columns are left to the caller).
 * Values live in the expression context's per-row memory, which the next
 * call resets.
 */
bool
tributary_transform_eval(TributaryTransform *tr, char **values, Datum *out, bool *out_nulls)
{
	MemoryContext old;

	tributary_transform_begin_row(tr);
	old = MemoryContextSwitchTo(tr->econtext->ecxt_per_tuple_memory);
	for (int i = 0; i < tr->nread; i++)
	{
		ParamExternData *p = &tr->params->params[i];

		if (!tr->used[i])
			continue;
		p->isnull = (values[i] == NULL);
		p->value = InputFunctionCall(&tr->in_fns[i], values[i], tr->in_ioparams[i], tr->in_typmods[i]);
	}
	MemoryContextSwitchTo(old);
	if (!tributary_transform_filter(tr))
		return false;
	tributary_transform_outputs(tr, out, out_nulls);
	return true;
}

/*
 * The row tributary.source_*() describe: a copy of what the evaluator set
 * (op 0: no row is being evaluated, and they return NULL).  The table
 * name is copied, so nothing here can point to freed memory.
 */
static TributaryRowMeta row_meta;
static char row_meta_table[1024];

/*
 * tributary_transform_set_meta: the row about to be evaluated (NULL: none
 * any more).
 */
void
tributary_transform_set_meta(const TributaryRowMeta *meta)
{
	if (meta == NULL)
	{
		row_meta.op = 0;
		return;
	}
	row_meta = *meta;
	if (meta->table != row_meta_table)
		strlcpy(row_meta_table, meta->table ? meta->table : "", sizeof(row_meta_table));
	row_meta.table = row_meta_table;
}

PG_FUNCTION_INFO_V1(tributary_source_table);

/*
 * tributary_source_table: the source table of the row a transform
 * evaluates, "schema.table" (MySQL "db.table"); NULL elsewhere.
 */
Datum
tributary_source_table(PG_FUNCTION_ARGS)
{
	if (row_meta.op == 0)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(row_meta.table));
}

PG_FUNCTION_INFO_V1(tributary_source_op);

/*
 * tributary_source_op: what brought the row: 'r' a snapshot read, 'c' an
 * insert, 'u' an update, 'd' a delete; NULL outside a transform.
 */
Datum
tributary_source_op(PG_FUNCTION_ARGS)
{
	if (row_meta.op == 0)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text_with_len(&row_meta.op, 1));
}

PG_FUNCTION_INFO_V1(tributary_source_commit_time);

/*
 * tributary_source_commit_time: the commit time of the source transaction
 * that changed the row; NULL for snapshot rows and outside a transform.
 */
Datum
tributary_source_commit_time(PG_FUNCTION_ARGS)
{
	if (row_meta.op == 0 || !row_meta.has_commit)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(row_meta.commit_ts);
}

PG_FUNCTION_INFO_V1(tributary_source_position);

/*
 * tributary_source_position: the position where the source transaction
 * that changed the row begins, as checkpoints spell positions (an LSN, a
 * MySQL file:offset); NULL for snapshot rows and outside a transform.
 */
Datum
tributary_source_position(PG_FUNCTION_ARGS)
{
	if (row_meta.op == 0 || !row_meta.has_commit || row_meta.position == InvalidXLogRecPtr)
		PG_RETURN_NULL();
	if (row_meta.source == NULL)
		PG_RETURN_TEXT_P(cstring_to_text(psprintf("%X/%X", LSN_FORMAT_ARGS(row_meta.position))));
	PG_RETURN_TEXT_P(cstring_to_text(tributary_position_out(row_meta.source, row_meta.position)));
}
