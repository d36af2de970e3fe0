-- The W3C trace context an execution was submitted in (its `traceparent`, then a space and its `tracestate` when there
-- is one), handed to the workers with each of its attempts so that their spans join the submission's trace; NULL
-- when the request carried none and the server exports no spans.
ALTER TABLE executions ADD COLUMN trace_context TEXT;
