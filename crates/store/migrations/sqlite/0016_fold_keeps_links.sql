-- Nothing on SQLite: its one event writer folds in its own transactions (see the PostgreSQL
-- migration of the same number).
SELECT 1;
