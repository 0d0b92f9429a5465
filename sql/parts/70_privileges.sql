
/* ------------------------------------------------------------------------
 * Privileges: nobody but the extension's owner reads or writes the
 * catalog tables or runs the internal functions; everyone may read the
 * views (which show each role its own jobs and sources); superusers and
 * members of tributary_admin call the API.
 * ------------------------------------------------------------------------ */

REVOKE ALL ON ALL TABLES IN SCHEMA tributary FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA tributary FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA tributary FROM PUBLIC;
GRANT USAGE ON SCHEMA tributary TO PUBLIC;

GRANT SELECT ON tributary.sources, tributary.jobs, tributary.tables, tributary.followed_rules, tributary.checkpoints,
	tributary.prepared_xacts, tributary.runs, tributary.errors, tributary.dirty_rows, tributary.job_versions TO PUBLIC;
/* used by the views, with the caller's rights: pure, or filtered by owner */
GRANT EXECUTE ON FUNCTION tributary._worker_status(), tributary._conninfo_mask(text),
	tributary._job_option_defs(), tributary._write_path(text, text) TO PUBLIC;
/* pure functions for column expressions */
GRANT EXECUTE ON FUNCTION tributary.mask(text, integer, integer, text), tributary.mask_hash(text, text),
	tributary.source_table(), tributary.source_op(), tributary.source_commit_time(), tributary.source_position() TO PUBLIC;

GRANT EXECUTE ON FUNCTION
	tributary.create_source(text, text, text, jsonb),
	tributary.drop_source(text),
	tributary.alter_source(text, text, jsonb),
	tributary.remove_table(text, text, boolean),
	tributary.check_source(text, text[]),
	tributary.create_job(text, text, text, jsonb),
	tributary.alter_job(text, jsonb),
	tributary.job_effective_options(text),
	tributary.add_table(text, text, text, jsonb, text, text, boolean, text),
	tributary.add_tables(text, text, text, text, text, boolean, boolean, text),
	tributary.follow_tables(text),
	tributary.unfollow_tables(text, text),
	tributary.start_job(text),
	tributary.stop_job(text),
	tributary.restart_job(text, boolean),
	tributary.resync_table(text, text),
	tributary.drop_job(text),
	tributary.wait_for_sync(text, interval)
	TO tributary_admin;

/* wake the launcher: it may have been waiting for the extension to appear */
SELECT tributary._wakeup_launcher();
