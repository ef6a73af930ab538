/*
 * Validation and (de)serialisation of a VM spec. Two passes: the schema (common/schema.h) settles
 * keys, types, lengths and ranges; the semantic checks below settle what a schema cannot say
 * (MAC format, tap and VM names, absolute paths without "..", one vCPU per distinct core). The
 * spec is validated again when read back from state_dir, because a file on disk is input too.
 *
 * JSON form:
 *   {"id": 42, "name": "web1", "uuid": "0f8fad5b-d9cb-469f-a165-70867728950e",
 *    "cores": [2, 3], "ram_mb": 1024, "machine": "pc", "accel": "kvm",
 *    "disks": [{"path": "/srv/storage/a/web1.qcow2", "bus": "virtio"}],
 *    "nics": [{"mac": "52:54:00:12:34:56", "tap": "wr42n0", "model": "virtio"}],
 *    "iso": "/srv/iso/debian.iso", "run_dir": "/run/webrack/vm-42"}
 * "machine" (default "pc") and "iso" (null or absent = empty cdrom) are optional; the number of
 * vCPUs is the length of "cores".
 */
#include "config.h"

#include <ctype.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "schema.h"
#include "vmspec.h"

static const char *const accel_names[] = {"kvm", "tcg", NULL};
static const char *const machine_names[] = {"pc", "q35", NULL};
static const char *const bus_names[] = {"virtio", NULL};
static const char *const nic_model_names[] = {"virtio", "e1000", NULL};

static const struct param disk_params[] = {
	{"path", PARAM_STRING, true, false, 2, VMSPEC_PATH_MAX, NULL,
	 "absolute path of a qcow2 file"},
	{"bus", PARAM_ENUM, true, false, 0, 0, bus_names, "disk bus"},
	PARAM_END,
};

static const struct param nic_params[] = {
	{"mac", PARAM_STRING, true, false, 17, 17, NULL, "52:54:00:xx:xx:xx"},
	{"tap", PARAM_STRING, true, false, 1, VMSPEC_TAP_MAX, NULL, "tap device name"},
	{"model", PARAM_ENUM, true, false, 0, 0, nic_model_names, "virtio or e1000"},
	PARAM_END,
};

static const struct param spec_params[] = {
	{"id", PARAM_INT, true, false, 1, INT64_MAX, NULL, "vServer id"},
	{"name", PARAM_STRING, true, false, 1, VMSPEC_NAME_MAX, NULL, "[A-Za-z0-9._-]"},
	{"uuid", PARAM_STRING, true, false, 36, 36, NULL, "SMBIOS UUID"},
	{"cores", PARAM_INTLIST, true, false, 1, VMSPEC_MAX_VCPUS, NULL, "host core per vCPU"},
	{"ram_mb", PARAM_INT, true, false, VMSPEC_MIN_RAM_MB, VMSPEC_MAX_RAM_MB, NULL, "RAM"},
	{"machine", PARAM_ENUM, false, false, 0, 0, machine_names, "pc or q35"},
	{"accel", PARAM_ENUM, true, false, 0, 0, accel_names, "kvm or tcg"},
	{"disks", PARAM_ARRAY, true, false, 0, VMSPEC_MAX_DISKS, NULL, "disks", disk_params},
	{"nics", PARAM_ARRAY, true, false, 0, VMSPEC_MAX_NICS, NULL, "NICs", nic_params},
	{"iso", PARAM_STRING, false, true, 2, VMSPEC_PATH_MAX, NULL, "ISO image or null"},
	{"run_dir", PARAM_STRING, true, false, 2, VMSPEC_RUN_DIR_MAX, NULL, "sockets, pid file"},
	PARAM_END,
};

static int
choice_index(const char *const *choices, const char *s)
{
	for (int i = 0; choices[i] != NULL; i++)
		if (strcmp(choices[i], s) == 0)
			return i;
	return -1; /* not reached after schema_check */
}

bool
vmspec_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len < 1 || len > VMSPEC_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isascii(c) || !(isalnum(c) || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

bool
vmspec_mac_ok(const char *mac)
{
	/* 52:54:00 is QEMU's OUI; the controller allocates the rest. */
	if (strlen(mac) != 17 || strncmp(mac, "52:54:00:", 9) != 0)
		return false;
	for (size_t i = 9; i < 17; i++) {
		if (i % 3 == 2) {
			if (mac[i] != ':')
				return false;
		} else if (!isxdigit((unsigned char)mac[i]) || isupper((unsigned char)mac[i])) {
			return false;
		}
	}
	return true;
}

bool
vmspec_tap_ok(const char *tap)
{
	size_t len = strlen(tap);

	if (len < 1 || len > VMSPEC_TAP_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = tap[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}

static bool
uuid_ok(const char *uuid)
{
	if (strlen(uuid) != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (uuid[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)uuid[i])) {
			return false;
		}
	}
	return true;
}

bool
vmspec_path_ok(const char *path, char *why, size_t whylen, const char *what)
{
	size_t len = strlen(path);

	if (path[0] != '/') {
		snprintf(why, whylen, "%s must be an absolute path", what);
		return false;
	}
	if (len > VMSPEC_PATH_MAX) {
		snprintf(why, whylen, "%s is too long", what);
		return false;
	}
	if (path[len - 1] == '/') {
		snprintf(why, whylen, "%s must not end with '/'", what);
		return false;
	}
	/* Walk the components: "..", "." and empty ones ("//") are all refused. */
	for (const char *p = path + 1; *p != '\0';) {
		const char *end = strchr(p, '/');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
			snprintf(why, whylen, "%s must not contain '.', '..' or '//' components",
				 what);
			return false;
		}
		p += n;
		if (*p == '/')
			p++;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f) {
			snprintf(why, whylen, "%s contains control characters", what);
			return false;
		}
	}
	return true;
}

static void
copy_string(char *dst, size_t dstlen, const json_t *v)
{
	/* Lengths were checked by the schema; truncation cannot happen but never overflow. */
	snprintf(dst, dstlen, "%s", json_string_value(v));
}

static bool
cores_from_json(const json_t *cores, struct vm_spec *spec, char *why, size_t whylen)
{
	size_t i;
	json_t *v;

	spec->vcpus = (unsigned int)json_array_size(cores);
	json_array_foreach (cores, i, v) {
		json_int_t core = json_integer_value(v);
		if (core >= CPU_SETSIZE) {
			snprintf(why, whylen, "parameter 'cores' holds core %lld, beyond %d",
				 (long long)core, CPU_SETSIZE - 1);
			return false;
		}
		for (size_t j = 0; j < i; j++) {
			if (spec->cores[j] == core) {
				snprintf(why, whylen, "parameter 'cores' names core %lld twice",
					 (long long)core);
				return false;
			}
		}
		spec->cores[i] = (int)core;
	}
	return true;
}

static bool
disks_from_json(const json_t *disks, struct vm_spec *spec, char *why, size_t whylen)
{
	size_t i;
	json_t *d;
	char what[48];

	spec->ndisks = json_array_size(disks);
	json_array_foreach (disks, i, d) {
		struct vm_disk *disk = &spec->disks[i];
		snprintf(what, sizeof(what), "disks[%zu].path", i);
		copy_string(disk->path, sizeof(disk->path), json_object_get(d, "path"));
		if (!vmspec_path_ok(disk->path, why, whylen, what))
			return false;
		disk->bus = (enum vm_disk_bus)choice_index(
			bus_names, json_string_value(json_object_get(d, "bus")));
		for (size_t j = 0; j < i; j++) {
			if (strcmp(spec->disks[j].path, disk->path) == 0) {
				snprintf(why, whylen, "disks[%zu] repeats the file of disks[%zu]",
					 i, j);
				return false;
			}
		}
	}
	return true;
}

static bool
nics_from_json(const json_t *nics, struct vm_spec *spec, char *why, size_t whylen)
{
	size_t i;
	json_t *n;

	spec->nnics = json_array_size(nics);
	json_array_foreach (nics, i, n) {
		struct vm_nic *nic = &spec->nics[i];
		copy_string(nic->mac, sizeof(nic->mac), json_object_get(n, "mac"));
		copy_string(nic->tap, sizeof(nic->tap), json_object_get(n, "tap"));
		if (!vmspec_mac_ok(nic->mac)) {
			snprintf(why, whylen,
				 "nics[%zu].mac must look like 52:54:00:xx:xx:xx (lower-case hex)",
				 i);
			return false;
		}
		if (!vmspec_tap_ok(nic->tap)) {
			snprintf(why, whylen, "nics[%zu].tap must be 1 to 15 of [a-z0-9-]", i);
			return false;
		}
		nic->model = (enum vm_nic_model)choice_index(
			nic_model_names, json_string_value(json_object_get(n, "model")));
		for (size_t j = 0; j < i; j++) {
			if (strcmp(spec->nics[j].mac, nic->mac) == 0 ||
			    strcmp(spec->nics[j].tap, nic->tap) == 0) {
				snprintf(why, whylen,
					 "nics[%zu] repeats the MAC or tap of nics[%zu]", i, j);
				return false;
			}
		}
	}
	return true;
}

bool
vmspec_from_json(const json_t *obj, struct vm_spec *spec, char *why, size_t whylen)
{
	const json_t *v;

	memset(spec, 0, sizeof(*spec));
	if (!schema_check(spec_params, obj, why, whylen))
		return false;

	spec->id = json_integer_value(json_object_get(obj, "id"));
	copy_string(spec->name, sizeof(spec->name), json_object_get(obj, "name"));
	if (!vmspec_name_ok(spec->name)) {
		snprintf(why, whylen, "parameter 'name' must be 1 to 63 of [A-Za-z0-9._-]");
		return false;
	}
	copy_string(spec->uuid, sizeof(spec->uuid), json_object_get(obj, "uuid"));
	if (!uuid_ok(spec->uuid)) {
		snprintf(why, whylen, "parameter 'uuid' must be a UUID (8-4-4-4-12 hex digits)");
		return false;
	}
	for (char *p = spec->uuid; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	if (!cores_from_json(json_object_get(obj, "cores"), spec, why, whylen))
		return false;
	spec->ram_mb = json_integer_value(json_object_get(obj, "ram_mb"));
	v = json_object_get(obj, "machine");
	spec->machine = v != NULL
				? (enum vm_machine)choice_index(machine_names, json_string_value(v))
				: VM_MACHINE_PC;
	spec->accel = (enum vm_accel)choice_index(accel_names,
						  json_string_value(json_object_get(obj, "accel")));
	if (!disks_from_json(json_object_get(obj, "disks"), spec, why, whylen))
		return false;
	if (!nics_from_json(json_object_get(obj, "nics"), spec, why, whylen))
		return false;
	v = json_object_get(obj, "iso");
	if (v != NULL && !json_is_null(v)) {
		copy_string(spec->iso, sizeof(spec->iso), v);
		if (!vmspec_path_ok(spec->iso, why, whylen, "parameter 'iso'"))
			return false;
	}
	copy_string(spec->run_dir, sizeof(spec->run_dir), json_object_get(obj, "run_dir"));
	if (!vmspec_path_ok(spec->run_dir, why, whylen, "parameter 'run_dir'"))
		return false;
	return true;
}

const char *
vmspec_accel_name(enum vm_accel accel)
{
	return accel_names[accel];
}

const char *
vmspec_nic_model_name(enum vm_nic_model model)
{
	return nic_model_names[model];
}

json_t *
vmspec_to_json(const struct vm_spec *spec)
{
	json_t *cores = json_array();
	json_t *disks = json_array();
	json_t *nics = json_array();
	json_t *obj = NULL;

	if (cores == NULL || disks == NULL || nics == NULL)
		goto out;
	for (unsigned int i = 0; i < spec->vcpus; i++)
		if (json_array_append_new(cores, json_integer(spec->cores[i])) != 0)
			goto out;
	for (size_t i = 0; i < spec->ndisks; i++)
		if (json_array_append_new(disks,
					  json_pack("{s:s, s:s}", "path", spec->disks[i].path,
						    "bus", bus_names[spec->disks[i].bus])) != 0)
			goto out;
	for (size_t i = 0; i < spec->nnics; i++)
		if (json_array_append_new(nics,
					  json_pack("{s:s, s:s, s:s}", "mac", spec->nics[i].mac,
						    "tap", spec->nics[i].tap, "model",
						    nic_model_names[spec->nics[i].model])) != 0)
			goto out;
	/* json_pack's 'o' steals the arrays even when it fails. */
	obj = json_pack("{s:I, s:s, s:s, s:o, s:I, s:s, s:s, s:o, s:o, s:s, s:s*}", "id",
			(json_int_t)spec->id, "name", spec->name, "uuid", spec->uuid, "cores",
			cores, "ram_mb", (json_int_t)spec->ram_mb, "machine",
			machine_names[spec->machine], "accel", accel_names[spec->accel], "disks",
			disks, "nics", nics, "run_dir", spec->run_dir, "iso",
			spec->iso[0] != '\0' ? spec->iso : NULL);
	return obj;
out:
	json_decref(cores);
	json_decref(disks);
	json_decref(nics);
	return NULL;
}
