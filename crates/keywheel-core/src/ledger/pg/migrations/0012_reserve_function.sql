-- Version 12 (the number of ledger/migrations/0012_reserve_function.sql, a no-op there): a
-- reservation's common case in one round trip (ledger/pg/reserve.rs, "The fast path").
--
-- `keywheel_reserve` is called as one statement in its own implicit transaction. It takes the
-- locks the locked transaction takes (the rows of the key's account's keys, `FOR UPDATE`, in
-- id order), then reads — each statement of a VOLATILE function takes a new snapshot under
-- READ COMMITTED, so the read sees every commit made before the locks were held — and grants
-- only when every rule of ledger/reserve.rs (`evaluate`, `decide`) certainly allows it and the
-- key's day row exists. Otherwise it returns no row and changes nothing, and the caller runs
-- the locked transaction, which decides (and words) every refusal. It is stricter than the
-- rules, never looser: a status other than 'ok' that has not expired, a cap of 0 or below,
-- a locked key set that differs from the one read, and a missing day row all fall back.
--
-- The request row carries the caller's random `token`, so a caller whose answer was lost can
-- find out, once the backend that ran the call is gone, whether it was granted.
ALTER TABLE requests ADD COLUMN token BIGINT;

CREATE FUNCTION keywheel_reserve(
    p_key TEXT, p_given_ms BIGINT, p_instance TEXT, p_kind TEXT, p_model TEXT,
    p_daily BIGINT, p_minute BIGINT, p_tier BOOLEAN, p_token BIGINT)
RETURNS TABLE (r_id BIGINT, r_account TEXT, r_day TEXT)
LANGUAGE plpgsql VOLATILE
-- Small statements whose plans do not depend on the values: planned once per connection.
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
    locked TEXT[];
    k RECORD;
    v_ms BIGINT;
    v_day TEXT;
    v_yesterday TEXT;
    v_default BIGINT;
    v_daily BIGINT;
    v_minute BIGINT;
    v_acct_daily BIGINT;
    v_acct_minute BIGINT;
    v_today BIGINT;
    v_ring BYTEA;
    v_key_times BIGINT;
    v_acct_times BIGINT;
    v_n BIGINT;
    v_id BIGINT;
BEGIN
    -- 1. The locks, in id order (the statement of the locked transaction).
    SELECT array_agg(s.id) INTO locked FROM (
        SELECT id FROM keys
        WHERE COALESCE(account, id) = (SELECT COALESCE(account, id) FROM keys WHERE id = p_key)
        ORDER BY id FOR UPDATE) s;
    IF locked IS NULL OR NOT (p_key = ANY (locked)) THEN
        RETURN;
    END IF;
    -- "Now" after the locks, and the UTC day as clock::day_key computes it (whole days since
    -- the epoch).
    v_ms := COALESCE(p_given_ms, (extract(epoch FROM clock_timestamp()) * 1000)::bigint);
    IF v_ms < 60000 THEN
        RETURN;
    END IF;
    v_day := to_char(date '1970-01-01' + (v_ms / 86400000)::int, 'YYYY-MM-DD');
    -- 2. A new snapshot (after the locks): the key's row, its account's, its day row, and the
    -- account's key set (it must be the one locked).
    SELECT COALESCE(kk.account, kk.id) AS acct, kk.account IS NULL AS own, kk.enabled,
           kk.status, kk.status_until, kk.daily_cap, kk.minute_cap,
           a.daily_cap AS a_daily, a.minute_cap AS a_minute, a.exhausted_until,
           COALESCE(a.no_credit, FALSE) AS no_credit, a.tier_cap,
           CASE WHEN a.remote_day = v_day THEN GREATEST(a.extra_requests, 0) ELSE 0 END AS extra,
           u.requests, COALESCE(u.win, ''::bytea) AS win,
           (SELECT array_agg(o.id ORDER BY o.id) FROM keys o
            WHERE COALESCE(o.account, o.id) = COALESCE(kk.account, kk.id)) AS ids
      INTO k
      FROM keys kk
           LEFT JOIN accounts a ON a.name = COALESCE(kk.account, kk.id)
           LEFT JOIN usage_daily u ON u.key_id = kk.id AND u.day = v_day
     WHERE kk.id = p_key;
    -- No day row yet, another key set, or a rule that may refuse: the locked transaction.
    IF k.requests IS NULL OR k.ids IS DISTINCT FROM locked OR NOT k.enabled
       OR NOT (k.status = 'ok' OR COALESCE(k.status_until <= v_ms, FALSE)) OR k.no_credit
       OR k.exhausted_until > v_ms THEN
        RETURN;
    END IF;
    -- The caps (ledger/reserve.rs, evaluate).
    v_default := CASE WHEN p_tier AND k.tier_cap IS NOT NULL THEN k.tier_cap ELSE p_daily END;
    v_daily := COALESCE(k.daily_cap, v_default);
    v_minute := COALESCE(k.minute_cap, p_minute);
    v_acct_daily := COALESCE(k.a_daily, CASE WHEN k.own THEN v_daily ELSE v_default END);
    v_acct_minute := COALESCE(k.a_minute, CASE WHEN k.own THEN v_minute ELSE p_minute END);
    v_today := GREATEST(k.requests, 0);
    IF v_daily <= 0 OR v_today >= v_daily OR v_acct_daily <= 0 OR v_minute <= 0
       OR v_acct_minute <= 0 THEN
        RETURN;
    END IF;
    -- The account's day count and the times in its rings: this key's row alone when it is
    -- the account's only key and the window does not reach into yesterday's rows.
    v_key_times := length(k.win) / 8;
    IF array_length(locked, 1) = 1 AND v_ms - 60000 >= (v_ms / 86400000) * 86400000 THEN
        v_n := v_today;
        v_acct_times := v_key_times;
    ELSE
        v_yesterday := to_char(date '1970-01-01' + (v_ms / 86400000)::int - 1, 'YYYY-MM-DD');
        IF v_ms - 60000 >= (v_ms / 86400000) * 86400000 THEN
            v_yesterday := NULL;
        END IF;
        SELECT COALESCE(sum(GREATEST(d.requests, 0)) FILTER (WHERE d.day = v_day), 0),
               COALESCE(sum(length(COALESCE(d.win, ''::bytea)) / 8) FILTER (WHERE d.key_id = p_key), 0),
               COALESCE(sum(length(COALESCE(d.win, ''::bytea)) / 8), 0)
          INTO v_n, v_key_times, v_acct_times
          FROM usage_daily d
         WHERE d.key_id = ANY (locked) AND (d.day = v_day OR d.day = v_yesterday);
    END IF;
    IF v_n + k.extra >= v_acct_daily THEN
        RETURN;
    END IF;
    -- The windows: fewer times in the rings than the cap fits for sure; else the times in
    -- (now - 60 s, now] are counted (8-byte big-endian, after the epoch, so their bytes
    -- compare as the numbers do).
    IF v_key_times >= v_minute OR v_acct_times >= v_acct_minute THEN
        SELECT count(*) FILTER (WHERE d.key_id = p_key), count(*)
          INTO v_key_times, v_acct_times
          FROM usage_daily d CROSS JOIN LATERAL generate_series(0, length(d.win) / 8 - 1) i
         WHERE d.key_id = ANY (locked) AND (d.day = v_day OR d.day = v_yesterday)
           AND substring(d.win FROM i * 8 + 1 FOR 8) > int8send(v_ms - 60000)
           AND substring(d.win FROM i * 8 + 1 FOR 8) <= int8send(v_ms);
        IF v_key_times >= v_minute OR v_acct_times >= v_acct_minute THEN
            RETURN;
        END IF;
    END IF;
    -- 3. The grant. The ring gains now; one of 64 times or more first loses the times that
    -- left the window (ledger/reserve.rs, granted_ring; a time older than the window counts
    -- for nothing, so a ring may keep a few until then).
    v_ring := k.win;
    IF length(v_ring) >= 64 * 8 THEN
        SELECT COALESCE(string_agg(e, ''::bytea ORDER BY i), ''::bytea) INTO v_ring
          FROM (SELECT i, substring(v_ring FROM i * 8 + 1 FOR 8) AS e
                FROM generate_series(0, length(v_ring) / 8 - 1) i) s
         WHERE e > int8send(v_ms - 60000) AND get_byte(e, 0) < 128;
    END IF;
    v_ring := v_ring || int8send(v_ms);
    WITH g AS (
        UPDATE usage_daily SET requests = requests + 1, win = v_ring
         WHERE key_id = p_key AND day = v_day
        RETURNING 1)
    -- The request row (its `via` named, so the migration-9 trigger does not run).
    INSERT INTO requests (instance_id, key_id, account, day, started_ms, kind, model_asked, via, token)
    SELECT p_instance, p_key, k.acct, v_day, v_ms, p_kind, p_model,
           (SELECT kind FROM instances WHERE id = p_instance), p_token
      FROM g
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        RETURN;
    END IF;
    r_id := v_id;
    r_account := k.acct;
    r_day := v_day;
    RETURN NEXT;
END
$fn$;
