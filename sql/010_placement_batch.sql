-- Batched placement: the scheduler decides many vServers against its cached capacity and
-- commits them in one statement. Each placement runs in its own subtransaction, so one that
-- lost a race (WRCON: the cores or RAM are gone) or whose vServer vanished (WRNFD) is reported
-- in its row and the others still commit. Callers pass the pairs ordered by node id, so that
-- every transaction locking several nodes locks them in the same order.
CREATE FUNCTION wr_place_vservers(vs bigint[], nd bigint[], OUT i integer, OUT code text,
				  OUT error text) RETURNS SETOF record LANGUAGE plpgsql AS $$
BEGIN
	IF coalesce(array_length(vs, 1), 0) <> coalesce(array_length(nd, 1), 0) THEN
		RAISE EXCEPTION 'wr_place_vservers: % vServers but % nodes',
			array_length(vs, 1), array_length(nd, 1) USING ERRCODE = '22023';
	END IF;
	FOR k IN 1 .. coalesce(array_length(vs, 1), 0) LOOP
		i := k;
		code := NULL;
		error := NULL;
		BEGIN
			PERFORM wr_place_vserver(vs[k], nd[k]);
		EXCEPTION
			WHEN SQLSTATE 'WRCON' OR SQLSTATE 'WRNFD' THEN
				code := SQLSTATE;
				error := SQLERRM;
			WHEN unique_violation THEN
				code := 'WRCON';
				error := SQLERRM;
		END;
		RETURN NEXT;
	END LOOP;
END $$;
