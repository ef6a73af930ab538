-- Fewer trigger calls per vServer start (docs/ARCHITECTURE.md, "Starts in sets"; bench/placement).
--
-- vservers_console_revoke (007_console.sql) fired for every row whose state or node changed and
-- let its function decide; a start changes both (the placement batch sets node_id, the task's
-- end sets state 'running'), so each start paid two trigger calls, one with a DELETE, for
-- nothing: a vServer that becomes running or paused keeps its tickets, and one that had no node
-- has no ticket (a ticket is issued only for a vServer running or paused on a node with a
-- console endpoint, controller/ops_console.c, and leaving the node revokes them). The condition
-- now says exactly when the function deletes something, so those updates queue no trigger
-- event at all. The function is unchanged.
DROP TRIGGER vservers_console_revoke ON vservers;
CREATE TRIGGER vservers_console_revoke AFTER UPDATE OF state, node_id ON vservers
	FOR EACH ROW WHEN ((NEW.state IS DISTINCT FROM OLD.state AND
			    NEW.state NOT IN ('running', 'paused')) OR
			   (NEW.node_id IS DISTINCT FROM OLD.node_id AND OLD.node_id IS NOT NULL))
	EXECUTE FUNCTION wr_console_revoke();
