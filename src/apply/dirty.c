/*-------------------------------------------------------------------------
 *
 * dirty.c
 *		Rows the apply engine could not apply under the dirty-data policy
 *		"skip": kept in tributary.dirty_row with their source values, in the
 *		local transaction (so each is recorded exactly once), and the job
 *		failed once dirty_data_limit is passed.
 *
 * A row is kept as a JSON object of its source columns' text: text
 * values as they came, binary (send format) values through their source
 * type's receive and output functions, NULL as null, and an unchanged
 * TOASTed value, which the change did not carry, as {"unchanged": true}.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "apply/apply_int.h"
#include "security.h"

/*
 * value_text: the text of a binary (send format) value of a source
 * column, through the source type's receive and output functions when it
 * is a built-in type, else its bytes in hex ("\\x...").
 */
static char *
value_text(ApplyRel *ar, int column, TribValue *v)
{
	Oid			type = ar->source_types[column];

	if (OidIsValid(type) && type < FirstNormalObjectId)
	{
		Oid			recv;
		Oid			ioparam;
		Oid			out;
		bool		varlena;
		FmgrInfo	fn;

		getTypeBinaryInputInfo(type, &recv, &ioparam);
		fmgr_info(recv, &fn);
		getTypeOutputInfo(type, &out, &varlena);
		return OidOutputFunctionCall(out, tributary_receive_value(&fn, ioparam, -1, v));
	}
	else
	{
		StringInfoData hex;

		initStringInfo(&hex);
		appendStringInfoString(&hex, "\\x");
		for (uint32 i = 0; i < v->len; i++)
			appendStringInfo(&hex, "%02x", (unsigned char) v->data[i]);
		return hex.data;
	}
}

/*
 * row_json: a source row image as a JSON object of text values (binary
 * values as their text; NULL as null; an unchanged TOASTed value, which
 * the change did not carry, as {"unchanged": true}).
 */
static char *
row_json(ApplyRel *ar, TribTuple *tuple)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; tuple && i < tuple->natts && i < ar->nsource; i++)
	{
		TribValue  *v = &tuple->values[i];

		if (i > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, ar->source_names[i]);
		appendStringInfoString(&buf, ": ");
		if (v->kind == TRIB_VALUE_TEXT)
			escape_json(&buf, pnstrdup(v->data, v->len));
		else if (v->kind == TRIB_VALUE_BINARY)
			escape_json(&buf, value_text(ar, i, v));
		else if (v->kind == TRIB_VALUE_UNCHANGED)
			appendStringInfoString(&buf, "{\"unchanged\": true}");
		else
			appendStringInfoString(&buf, "null");
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * tributary_record_dirty_row: keep a row that could not be applied in
 * tributary.dirty_row (in the local transaction, so it is recorded exactly
 * once), and fail the job once dirty_data_limit is passed.
 */
void
tributary_record_dirty_row(TributaryApplyState *state, ApplyRel *ar, TribTuple *tuple, ErrorData *edata)
{
	Oid			argtypes[5] = {INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[5];
	int64		count;
	bool		isnull;
	TributaryUserSave us;

	args[0] = Int32GetDatum(state->job->id);
	args[1] = CStringGetTextDatum(ar->source_name);
	args[2] = CStringGetTextDatum(tributary_position_out(state->job->source, state->position));
	args[3] = CStringGetTextDatum(row_json(ar, tuple));
	args[4] = CStringGetTextDatum(edata->message);
	PushActiveSnapshot(GetTransactionSnapshot());
	us = tributary_catalog_enter();
	SPI_connect();
	if (SPI_execute_with_args("INSERT INTO tributary.dirty_row (dr_job_id, dr_source_table, dr_position, dr_row, dr_error) "
							  "VALUES ($1, $2, $3, $4::jsonb, $5)", 5, argtypes, args, NULL, false, 0) != SPI_OK_INSERT ||
		SPI_execute_with_args("SELECT count(*) FROM tributary.dirty_row WHERE dr_job_id = $1",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not record a dirty row");
	count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	tributary_catalog_leave(us);
	PopActiveSnapshot();
	ereport(LOG,
			(errmsg("pg_tributary job \"%s\" skipped a row of source table [%s] at %s: %s",
					state->job->name, ar->source_name,
					tributary_position_out(state->job->source, state->position), edata->message)));
	if (state->job->dirty_limit >= 0 && count > state->job->dirty_limit)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("job \"%s\" passed its dirty data limit of " INT64_FORMAT " rows", state->job->name,
						state->job->dirty_limit),
				 errdetail("The last row of source table [%s] was rejected with: %s", ar->source_name,
						   edata->message),
				 errhint("See tributary.dirty_rows; fix the target or the data, raise dirty_data_limit, then start the job again.")));
}

