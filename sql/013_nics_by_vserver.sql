-- A vServer's NICs are read at every definition and start (vm.define builds the spec from them);
-- without this index each read scanned every NIC of the installation.
CREATE INDEX nics_vserver ON nics (vserver_id);
