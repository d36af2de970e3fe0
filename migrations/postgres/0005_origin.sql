-- How an execution came to be: 'created', 'relaunched' or 'recovered' (a child of a launch-plan node is told by
-- parent_execution_id), and for the last two the execution it was made from.
ALTER TABLE executions ADD COLUMN origin TEXT NOT NULL DEFAULT 'created';
ALTER TABLE executions ADD COLUMN source_execution_id UUID;
