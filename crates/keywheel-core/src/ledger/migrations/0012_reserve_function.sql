-- Version 12: nothing changes here. The team ledger (ledger/pg/migrations/0012_reserve_function.sql)
-- gains a function that reserves in one round trip and a `token` column on its request rows;
-- the SQLite file reserves in one local transaction already. The number is taken so both
-- backends stay at the same schema version.
SELECT 1;
