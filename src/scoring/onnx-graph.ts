import { fromBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, type AttributeProto, type NodeProto } from 'onnx-buf';

/** What the service reads from a model's graph that onnxruntime-node does not tell. */
export interface GraphFacts {
  /** The classifier's class labels, in the order of its probability columns, when the graph names them. */
  readonly classLabels?: readonly string[];
  /**
   * Per graph input, the only values it takes: an ai.onnx.ml OneHotEncoder reading the input with
   * `zeros=0` fails the whole run on any other value (skl2onnx writes it for OneHotEncoder's
   * default handle_unknown='error').
   */
  readonly categories: Readonly<Record<string, readonly (string | number)[]>>;
  /** Graph outputs a ZipMap node writes (sequences of maps, which onnxruntime-node cannot return). */
  readonly zipMapOutputs: readonly string[];
}

const ML = 'ai.onnx.ml';
const LABEL_ATTRIBUTES = ['classlabels_strings', 'classlabels_int64s', 'classlabels_ints'];
const text = new TextDecoder();

/** Reads the facts from ONNX bytes (the whole graph is parsed: call it once, at load). */
export function readGraphFacts(bytes: Uint8Array): GraphFacts {
  const graph = fromBinary(ModelProtoSchema, bytes).graph;
  if (graph === undefined) return { categories: {}, zipMapOutputs: [] };
  const inputs = new Set(graph.input.map((i) => i.name));
  const outputs = new Set(graph.output.map((o) => o.name));
  const labelLists = new Map<string, string[]>();
  const categories: Record<string, (string | number)[]> = {};
  const zipMapOutputs: string[] = [];
  for (const node of graph.node) {
    if (node.domain !== ML) continue;
    const labels = classLabelsOf(node);
    if (labels !== undefined) labelLists.set(labels.join('\u0000'), labels);
    if (node.opType === 'ZipMap') zipMapOutputs.push(...node.output.filter((o) => outputs.has(o)));
    const source = node.input[0];
    if (node.opType === 'OneHotEncoder' && source !== undefined && inputs.has(source) && (intOf(attribute(node, 'zeros')) ?? 1) === 0) {
      const cats = attribute(node, 'cats_strings')?.strings.map((s) => text.decode(s)) ?? attribute(node, 'cats_int64s')?.ints.map(Number);
      if (cats !== undefined && cats.length > 0) categories[source] = cats;
    }
  }
  // One classifier (a ZipMap after it repeats its labels): its labels. Several that differ: none.
  const classLabels = labelLists.size === 1 ? [...labelLists.values()][0] : undefined;
  return { ...(classLabels === undefined ? {} : { classLabels }), categories, zipMapOutputs };
}

function attribute(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

function intOf(a: AttributeProto | undefined): number | undefined {
  return a === undefined ? undefined : Number(a.i);
}

function classLabelsOf(node: NodeProto): string[] | undefined {
  for (const name of LABEL_ATTRIBUTES) {
    const a = attribute(node, name);
    if (a === undefined) continue;
    const labels = name === 'classlabels_strings' ? a.strings.map((s) => text.decode(s)) : a.ints.map(String);
    if (labels.length > 0) return labels;
  }
  return undefined;
}
