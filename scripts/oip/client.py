"""Call kscore's Open Inference Protocol (v2) endpoints with NVIDIA's Triton HTTP client.

    venv=$(scripts/python-env scripts/oip/requirements.txt)
    $venv/bin/python scripts/oip/client.py --url 127.0.0.1:8080 --token READ_TOKEN --model churn --rows rows.json

rows.json: a list of events (objects of fields). The script reads the model's metadata, builds one
tensor per input from the fields (an [N, k] input takes, in order, the fields given in
--fields INPUT=a,b; a one-column input the field of its name), calls infer, and prints JSON:
{"live", "ready", "model_ready", "metadata", "outputs": {name: nested list}}.
"""

import argparse
import json

import numpy as np
import tritonclient.http as http

NUMPY = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64, "INT32": np.int32, "BOOL": np.bool_, "BYTES": np.object_}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True, help="host:port of the service's HTTP server")
    p.add_argument("--token", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--version", default="")
    p.add_argument("--rows", required=True, help="JSON file: a list of events")
    p.add_argument("--fields", action="append", default=[], help="INPUT=a,b,c: the fields of a wide input, in column order")
    args = p.parse_args()

    headers = {"Authorization": f"Bearer {args.token}"}
    client = http.InferenceServerClient(url=args.url)
    live = client.is_server_live(headers=headers)
    ready = client.is_server_ready(headers=headers)
    model_ready = client.is_model_ready(args.model, args.version, headers=headers)
    meta = client.get_model_metadata(args.model, args.version, headers=headers)
    fields = dict((f.split("=", 1)[0], f.split("=", 1)[1].split(",")) for f in args.fields)

    with open(args.rows) as f:
        rows = json.load(f)
    inputs = []
    for spec in meta["inputs"]:
        names = fields.get(spec["name"], [spec["name"]])
        dtype = NUMPY[spec["datatype"]]
        values = [[row[n] for n in names] for row in rows]
        arr = np.array(values, dtype=dtype)
        if len(spec["shape"]) == 1:
            arr = arr.reshape(len(rows))
        tensor = http.InferInput(spec["name"], list(arr.shape), spec["datatype"])
        tensor.set_data_from_numpy(arr, binary_data=False)
        inputs.append(tensor)
    wanted = [http.InferRequestedOutput(o["name"], binary_data=False) for o in meta["outputs"]]
    result = client.infer(args.model, inputs, model_version=args.version, outputs=wanted, headers=headers, request_id="parity")
    outputs = {o["name"]: result.as_numpy(o["name"]).tolist() for o in meta["outputs"]}
    print(json.dumps({"live": live, "ready": ready, "model_ready": model_ready, "metadata": meta, "id": result.get_response().get("id"), "outputs": outputs}))


if __name__ == "__main__":
    main()
