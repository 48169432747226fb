DROP INDEX shifts_account_id_idx;
