-- The ledger row of one received file (grain: one row per arrival). A rerun after a crash inserts nothing.
insert into core.submissions (
    submission_id, provider_id, report_period, file_name, size_bytes, row_count, received_at, receipt_seq,
    status, reason, reason_path, docs_path, stored_path, superseded_by, contract_version
)
values (
    $submission_id, $provider_id, $report_period, $file_name, $size_bytes, $row_count, $received_at, $receipt_seq,
    $status, $reason, $reason_path, $docs_path, $stored_path, null, $contract_version
)
on conflict do nothing
