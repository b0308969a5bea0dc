// Read Zarr v3 arrays with zarrita.js, an implementation independent of zarr-python.
//
//   node read_arrays.mjs JOB.json
//
// JOB.json: {"out": DIRECTORY, "stores": [{"location": PATH_OR_URL, "arrays": [NAME, ...]}]}
// Prints one JSON manifest on stdout: per array its data type, shape and strides, and either
// the file (under DIRECTORY) holding the decoded values' raw little-endian bytes in C order,
// the values themselves (string arrays), or the error. An error in one array never stops
// the others: the Python test reports every failure at once.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import * as path from "node:path";

import { FileSystemStore } from "@zarrita/storage";
import * as zarr from "zarrita";

const job = JSON.parse(await readFile(process.argv[2], "utf8"));
await mkdir(job.out, { recursive: true });

function openStore(location) {
	return /^https?:\/\//.test(location)
		? new zarr.FetchStore(location)
		: new FileSystemStore(location);
}

const results = [];
let counter = 0;
for (const { location, arrays } of job.stores) {
	const store = openStore(location);
	for (const name of arrays) {
		const entry = { location, array: name };
		try {
			const array = await zarr.open.v3(zarr.root(store).resolve(name), {
				kind: "array",
			});
			const chunk = await zarr.get(array);
			entry.data_type = array.dtype;
			entry.shape = chunk.shape;
			entry.stride = chunk.stride;
			if (Array.isArray(chunk.data)) {
				entry.values = chunk.data;
			} else {
				const view = chunk.data;
				entry.file = path.join(job.out, `${counter++}.bin`);
				await writeFile(
					entry.file,
					new Uint8Array(view.buffer, view.byteOffset, view.byteLength),
				);
			}
		} catch (error) {
			entry.error = String(error?.message ?? error);
		}
		results.push(entry);
	}
}
process.stdout.write(JSON.stringify(results));
