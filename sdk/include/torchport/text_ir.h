// Deterministic textual form of the IR. print(parse(text)) == text for printer output;
// parse(print(g)) is structurally equal to g (names, types, attributes in order and kind,
// floats bit-exact, tensor data, provenance, nested graphs). Example:
//
//   graph @main(%input: f32[batch,3,224,224]) -> (%output: f32[batch,1000]) {
//     %w = const f32[64,3,7,7] @"conv1.weight"                 # tensor const, data elided
//     %b = const f32[2] dense<[1.0, 2.0]>                       # tensor const with data
//     %k = const int 3
//     %l = const list<int> [1,2]
//     %1: f32[batch,64,112,112] = aten::conv2d(%input, %w, %b) {stride=[2,2]}  # conv1 loc("m.py:42")
//     prim::Print(%1)                                           # no outputs
//     %y: f32[2] = prim::If(%c) {then=graph @then() -> (%t) {
//       ...
//     }, else=graph @else() -> (%e) {
//       ...
//     }}
//     ...
//   }
//
// Grammar (printer output is the canonical form; the parser also accepts the lenient
// spellings noted in brackets):
//
//   graph     := 'graph' '@'NAME '(' [decl {',' decl}] ')' '->' '(' [decl {',' decl}] ')' '{' NL
//                {node NL} '}'
//                Inputs are definitions, outputs are references (to values of this graph,
//                its inputs, or enclosing graphs); an output's `: type` must equal the
//                value's type. One graph per text; trailing newline optional.
//   decl      := VALUE [':' type]                 type omitted when unknown
//   node      := [decl {',' decl} '='] KIND '(' [VALUE {',' VALUE}] ')' [attrs] [provenance]
//              | VALUE '=' 'const' type ['@'NAME] [literal] [provenance]
//                One node per line (a nested graph attribute continues over its lines).
//                `()` is always written, even without inputs.
//   KIND      := WORD | STRING, qualified: non-empty domain and name around the first "::"
//                (aten::conv2d, com.example::FancyAct, "my ops::odd kind")
//   attrs     := '{' name '=' attr {',' name '=' attr} '}'     name := WORD | STRING
//   attr      := INT                              int
//              | FLOAT                            float (always has '.', 'e', inf or nan)
//              | STRING                           string
//              | '[' INT {',' INT} ']'            ints (printed compact like dims: [2,2])
//              | '[' FLOAT {',' FLOAT} ']'        floats [ints and floats mixed: floats]
//              | '[' STRING {',' STRING} ']'      strings
//              | 'ints[]' | 'floats[]' | 'strings[]'   empty lists keep their kind
//                                                 [also non-empty: ints[1, 2], floats[1, 2]]
//              | 'dense<' TENSORTYPE ':' data '>' tensor with data
//              | 'dense<' TENSORTYPE '>'          tensor, data elided
//              | graph                            nested graph; body indented 2 more spaces,
//                                                 closing '}' at the node's indentation
//   provenance:= '#' [PATH | STRING] ['loc(' STRING ')']     module path, source range;
//                two spaces before '#', on the node's (last) line.
//   comments  := '//' to the end of any line; a line whose first token is '#'. Ignored
//                (the printer writes none); a '#' after other tokens is provenance.
//
//   Const sugar (kind prim::Constant, no inputs, one output, attributes exactly `value`
//   then optionally `param` (a string, printed as @"param")):
//     const f32[2,3] [@"p"] [dense<data>]   value = Tensor, output type f32[2,3] (static
//                                           shape, defined dtype); no dense<>: data elided
//     const int 3 | const float 0.5 | const bool true | const str "s" | const device "cpu"
//     const none                            no `value` attribute
//     const list<int> [1,2] | list<float> [0.5, 1.0] | list<bool> [true] | list<str> ["a"]
//   bool values are stored as int 0/1. Any other constant (type not matching the value,
//   extra attributes, inputs...) prints in the generic form:
//     %x: T = prim::Constant() {value=..., ...}
//
//   type      := DTYPE '[' dims ']'               tensor; DTYPE from dtypeName(), '?' if undefined
//              | DTYPE '[*]' | '?[*]'             unknown rank / unknown tensor
//              | 'int' | 'float' | 'bool' | 'str' | 'none' | 'device' | 'unknown'
//              | 'list<' type '>' | 'optional<' type '>' | 'tuple<' [type {',' type}] '>'
//              | 'obj<' (WORD | STRING) '>'       e.g. obj<__torch__.torch.classes.xnnpack.Conv2dOpContext>
//   dims      := [dim {',' dim}]                  f32[] is rank 0
//   dim       := INT (>= 0) | WORD (symbol) | STRING (symbol) | '?'
//   data      := '[' [elem {',' elem}] ']'        flat, row-major, exactly numel elements
//              | '0x' HEX...                      raw little-endian bytes (complex and f8
//                                                 dtypes always; bool bytes other than 0/1)
//   elem      := integer (int dtypes) | true | false (bool) | FLOAT (float dtypes, [ints ok])
//                f16/bf16 print as the shortest float that round-trips.
//
//   Lexical:
//   VALUE     := '%' NAME | '%' STRING            NAME := [A-Za-z0-9_./-]+ where ':' may occur
//                only as "::" (onnx::Conv_12), not at the end: `%y:f32[2]` is %y then a type
//   WORD      := [A-Za-z_][A-Za-z0-9_.]* with the same "::" rule (aten::conv2d, __torch__.M)
//   STRING    := '"' ... '"' on one line; escapes \" \\ \n \t \r \xHH (other control bytes
//                print as \xHH; bytes >= 0x80 print raw). Names that are not bare print quoted.
//   INT       := [+-]?[0-9]+ (64-bit)
//   FLOAT     := shortest round-trip decimal (std::to_chars), ".0" appended when it would
//                look like an integer; inf, -inf, nan, -nan (the default quiet NaNs) and
//                nan(0x<bits>) for other NaN bit patterns (bits in the element's format).
//
// Errors are Status::input "<source>:line:col: message" (1-based, columns in bytes): syntax,
// unknown dtype/type, duplicate value names (names are unique across nested graphs),
// unknown values, use before definition, values not visible in a scope, bad numbers,
// element-count mismatches, output type annotations that do not match. Nesting of graphs
// and of types is limited to 32 levels, so no input can exhaust the stack.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "torchport/ir.h"
#include "torchport/status.h"

namespace torchport {

struct PrintOptions {
  // Tensors with more elements than this print as `@"param"`/shape only (data elided).
  // Negative: always print data.
  int64_t elideTensorsAbove = -1;
  bool printProvenance = true;
};

std::string printGraph(const Graph& graph, const PrintOptions& options = {});

// Parses one graph. Errors are Status::input with "<source>:line:col: message".
Expected<std::unique_ptr<Graph>> parseGraph(std::string_view text, std::string_view sourceName = "<ir>");

}  // namespace torchport
