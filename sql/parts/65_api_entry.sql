
/* ------------------------------------------------------------------------
 * SQL API: the public functions.  Each is the C entry point tributary_api,
 * which notes the caller and runs tributary._api_<name> (see above and
 * security.c); their names, arguments and defaults are the contract.
 * ------------------------------------------------------------------------ */

CREATE FUNCTION tributary.create_source(source_name text, kind text, conninfo text,
										options jsonb DEFAULT '{}')
RETURNS integer LANGUAGE C AS 'MODULE_PATHNAME', 'tributary_api';

CREATE FUNCTION tributary.drop_source(source_name text)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'tributary_api';

CREATE FUNCTION tributary.alter_source(source_name text, conninfo text DEFAULT NULL, options jsonb DEFAULT NULL)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'tributary_api';

CREATE FUNCTION tributary.remove_table(job_name text, source_table text, drop_target boolean DEFAULT false)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'tributary_api';

CREATE FUNCTION tributary.check_source(source_name text, tables text[] DEFAULT NULL)
RETURNS TABLE (check_name text, ok boolean, detail text, hint text)
LANGUAGE C AS 'MODULE_PATHNAME', 'tributary_api';

CREATE FUNCTION tributary.create_job(job_name text, source_name text, mode text DEFAULT 'full+cdc',
									 options jsonb DEFAULT '{}')
RETURNS integer LANGUAGE C AS 'MODULE_PATHNAME', 'tributary_api';

CREATE FUNCTION tributary.alter_job(job_name text, options jsonb)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'tributary_api';

CREATE FUNCTION tributary.job_effective_options(job_name text)
RETURNS jsonb LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'tributary_api';

CREATE FUNCTION tributary.add_table(job_name text, source_table text, target_table text DEFAULT NULL,
									columns jsonb DEFAULT NULL, filter text DEFAULT NULL,
									incremental_column text DEFAULT NULL, merge boolean DEFAULT false,
									source_column text DEFAULT NULL)
RETURNS integer LANGUAGE C AS 'MODULE_PATHNAME', 'tributary_api';

CREATE FUNCTION tributary.add_tables(job_name text, source_pattern text, target_schema text DEFAULT NULL,
									 name_rule text DEFAULT NULL, exclude text DEFAULT NULL,
									 follow boolean DEFAULT false, merge boolean DEFAULT false,
									 source_column text DEFAULT NULL)
RETURNS integer LANGUAGE C AS 'MODULE_PATHNAME', 'tributary_api';

CREATE FUNCTION tributary.follow_tables(job_name text)
RETURNS integer LANGUAGE C AS 'MODULE_PATHNAME', 'tributary_api';

CREATE FUNCTION tributary.unfollow_tables(job_name text, source_pattern text DEFAULT NULL)
RETURNS integer LANGUAGE C AS 'MODULE_PATHNAME', 'tributary_api';

CREATE FUNCTION tributary.start_job(job_name text)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'tributary_api';

CREATE FUNCTION tributary.stop_job(job_name text)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'tributary_api';

CREATE FUNCTION tributary.restart_job(job_name text, from_checkpoint boolean DEFAULT true)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'tributary_api';

CREATE FUNCTION tributary.resync_table(job_name text, source_table text)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'tributary_api';

CREATE FUNCTION tributary.drop_job(job_name text)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'tributary_api';

CREATE FUNCTION tributary.wait_for_sync(job_name text, timeout interval DEFAULT '5 min')
RETURNS boolean LANGUAGE C AS 'MODULE_PATHNAME', 'tributary_api';
