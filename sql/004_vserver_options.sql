-- vServer options chosen at creation: a template image the disk is a copy-on-write child of, the
-- NIC model, and an anti-affinity group (no two vServers of a group on one node).
ALTER TABLE vservers ADD COLUMN template text CHECK (template ~ '^[a-z0-9][a-z0-9-]{0,62}$');
ALTER TABLE vservers ADD CONSTRAINT vservers_anti_affinity_check
	CHECK (anti_affinity ~ '^[A-Za-z0-9._-]{1,63}$');

DROP FUNCTION wr_vserver_create(bigint, bigint, text, integer, integer, integer);
CREATE FUNCTION wr_vserver_create(acct bigint, vdc bigint, vname text, vcores integer,
		vram integer, vdisk integer, vtemplate text, vnic text, vgroup text)
		RETURNS vservers LANGUAGE plpgsql AS $$
DECLARE
	v vservers;
BEGIN
	IF vdc IS NOT NULL AND NOT EXISTS (SELECT 1 FROM vdcs WHERE id = vdc AND account_id = acct) THEN
		RAISE EXCEPTION 'vDataCenter not found in this account' USING ERRCODE = 'WRNFD';
	END IF;
	PERFORM wr_quota_check(acct, vcores, vram, vdisk, 1);
	INSERT INTO vservers (account_id, vdc_id, name, cores, ram_mb, disk_gb, template, nic_model,
			      anti_affinity)
		VALUES (acct, vdc, vname, vcores, vram, vdisk, vtemplate, coalesce(vnic, 'virtio'),
			vgroup)
		RETURNING * INTO v;
	RETURN v;
END $$;
