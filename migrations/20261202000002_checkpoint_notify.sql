-- Wakes the API processes' consistency waits when a read model moves (NOTIFY is delivered at
-- commit): queries wait on this instead of polling the checkpoints.
CREATE FUNCTION moim_checkpoint_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('moim_checkpoints', NEW.name || ' ' || NEW.tx_id || '.' || NEW.position);
    RETURN NULL;
END;
$$;
CREATE TRIGGER projection_checkpoints_notify AFTER INSERT OR UPDATE ON projection_checkpoints
    FOR EACH ROW EXECUTE FUNCTION moim_checkpoint_notify();
