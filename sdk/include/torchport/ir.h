// torchport's graph IR: Graph / Node / Value, types with symbolic dims, tensors with
// shared storage. Dialect-agnostic: op kinds are qualified strings (`aten::conv2d`,
// `onnx::Conv`, `prim::If`), and nothing here knows LibTorch or onnx.
//
// Ownership: a Graph owns its nodes (in topological order) and its input values; a Node
// owns its output values. Nested graphs (If/Loop bodies) are node attributes and may use
// values of enclosing graphs by reference (captures).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <unordered_set>
#include <vector>

#include "torchport/status.h"

namespace torchport {

class Graph;
class Node;
class Value;

// ---------------------------------------------------------------------------------------
// Element types
// ---------------------------------------------------------------------------------------
enum class DType : uint8_t {
  Undefined,  // unknown element type
  F32, F64, F16, BF16,
  I8, I16, I32, I64,
  U8, U16, U32, U64,
  Bool,
  C64, C128,
  F8E4M3, F8E5M2,
};

std::string_view dtypeName(DType dtype);                  // "f32", "i64", "bool", "?"
std::optional<DType> parseDType(std::string_view name);    // inverse of dtypeName
size_t dtypeSize(DType dtype);                             // bytes per element, 0 if undefined
bool isFloatingPoint(DType dtype);
bool isInteger(DType dtype);                               // signed or unsigned, not bool

// Bit-exact conversions between float and the 16-bit float formats (IEEE binary16 and
// bfloat16). float -> 16 bit rounds to nearest even; NaNs stay NaNs.
float float16BitsToFloat(uint16_t bits);
uint16_t floatToFloat16Bits(float value);
float bfloat16BitsToFloat(uint16_t bits);
uint16_t floatToBfloat16Bits(float value);

// ---------------------------------------------------------------------------------------
// Shapes: each dim is a known size, a named symbol (`batch`), or unknown (`?`).
// ---------------------------------------------------------------------------------------
class Dim {
 public:
  Dim() = default;  // unknown
  static Dim known(int64_t size) { Dim d; d.size_ = size; return d; }
  static Dim symbol(std::string name) { Dim d; d.symbol_ = std::move(name); return d; }
  static Dim unknown() { return {}; }

  bool isKnown() const { return size_ >= 0; }
  bool isSymbol() const { return !symbol_.empty(); }
  bool isUnknown() const { return !isKnown() && !isSymbol(); }
  int64_t size() const { return size_; }         // valid if isKnown()
  const std::string& symbolName() const { return symbol_; }
  std::string toString() const;                  // "3", "batch", "?"

  friend bool operator==(const Dim& a, const Dim& b) {
    return a.size_ == b.size_ && a.symbol_ == b.symbol_;
  }

 private:
  int64_t size_ = -1;
  std::string symbol_;
};

// ---------------------------------------------------------------------------------------
// Types. Tensor types carry dtype + optional shape (nullopt = unknown rank). Scalar and
// container types exist because TorchScript graphs carry ints, lists, tuples, None...
//   textual: f32[batch,3,224,224]  f32[*] (unknown rank)  ?[*] (unknown tensor)
//            int  float  bool  str  none  device  list<int>  tuple<f32[2],int>
//            optional<f32[*]>  obj<__torch__.Foo>  unknown
// ---------------------------------------------------------------------------------------
class Type {
 public:
  enum class Kind : uint8_t { Unknown, Tensor, Int, Float, Bool, String, None, Device,
                              List, Tuple, Optional, Object };

  Type() = default;  // Unknown
  static Type unknown() { return {}; }
  static Type tensor(DType dtype, std::optional<std::vector<Dim>> shape = std::nullopt);
  static Type tensor(DType dtype, const std::vector<int64_t>& knownShape);
  static Type scalar(Kind kind);  // Int, Float, Bool, String, None, Device
  static Type list(Type element);
  static Type tuple(std::vector<Type> elements);
  static Type optional(Type element);
  static Type object(std::string className);

  Kind kind() const { return kind_; }
  bool isTensor() const { return kind_ == Kind::Tensor; }
  bool isUnknown() const { return kind_ == Kind::Unknown; }
  DType dtype() const { return dtype_; }
  bool hasRank() const { return shape_.has_value(); }
  size_t rank() const { return shape_ ? shape_->size() : 0; }
  const std::optional<std::vector<Dim>>& shape() const { return shape_; }
  // All dims known -> sizes; otherwise nullopt.
  std::optional<std::vector<int64_t>> staticShape() const;
  const std::vector<Type>& elements() const { return elements_; }
  const std::string& className() const { return className_; }

  std::string toString() const;
  friend bool operator==(const Type& a, const Type& b);

 private:
  Kind kind_ = Kind::Unknown;
  DType dtype_ = DType::Undefined;
  std::optional<std::vector<Dim>> shape_;
  std::vector<Type> elements_;
  std::string className_;
};

// ---------------------------------------------------------------------------------------
// Storage: bytes that tensors view. Owned (vector), a read-only mmap'ed file region, or
// borrowed from a foreign owner (an at::Tensor, a protobuf string) kept alive by a
// type-erased handle. Weights flow from input file to output file without copies.
// ---------------------------------------------------------------------------------------
class Storage {
 public:
  enum class Kind : uint8_t { Owned, Mapped, Borrowed };

  static std::shared_ptr<const Storage> owned(std::vector<std::byte> bytes);
  static std::shared_ptr<const Storage> borrowed(const void* data, size_t size,
                                                 std::shared_ptr<const void> keepAlive);
  // Maps [offset, offset+size) of `path` read-only. size == npos maps to end of file.
  static Expected<std::shared_ptr<const Storage>> mapFile(const std::filesystem::path& path,
                                                          size_t offset = 0,
                                                          size_t size = static_cast<size_t>(-1));

  Kind kind() const { return kind_; }
  std::span<const std::byte> bytes() const { return {data_, size_}; }
  size_t size() const { return size_; }

  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage();

 private:
  Storage() = default;
  Kind kind_ = Kind::Owned;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
  std::vector<std::byte> owned_;
  std::shared_ptr<const void> keepAlive_;
  void* mapBase_ = nullptr;  // for munmap
  size_t mapLength_ = 0;
};

// A dense, contiguous, row-major tensor viewing a Storage at a byte offset. A tensor
// without storage has "elided" data (textual IR printed without values): its shape and
// dtype are known, its contents are not.
class Tensor {
 public:
  Tensor() = default;
  Tensor(DType dtype, std::vector<int64_t> shape, std::shared_ptr<const Storage> storage,
         size_t byteOffset = 0);

  // Copies `values` into a new owned storage.
  template <class T>
  static Tensor fromVector(DType dtype, std::vector<int64_t> shape, const std::vector<T>& values);
  static Tensor zeros(DType dtype, std::vector<int64_t> shape);
  static Tensor scalarI64(int64_t v);
  static Tensor scalarF32(float v);

  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t numel() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtypeSize(dtype_); }
  bool hasData() const { return storage_ != nullptr; }
  const std::shared_ptr<const Storage>& storage() const { return storage_; }
  size_t byteOffset() const { return byteOffset_; }
  std::span<const std::byte> bytes() const;

  template <class T>
  std::span<const T> data() const {
    auto b = bytes();
    return {reinterpret_cast<const T*>(b.data()), b.size() / sizeof(T)};
  }
  // Element i converted to double / int64 (any numeric dtype, including f16/bf16).
  double elementAsDouble(int64_t i) const;
  int64_t elementAsInt(int64_t i) const;

  // Same shape, dtype and bytes (elided tensors compare by shape and dtype only).
  bool contentEquals(const Tensor& other) const;
  // 64-bit content hash (for deduplicating identical weights).
  uint64_t contentHash() const;

 private:
  DType dtype_ = DType::Undefined;
  std::vector<int64_t> shape_;
  std::shared_ptr<const Storage> storage_;
  size_t byteOffset_ = 0;
};

template <class T>
Tensor Tensor::fromVector(DType dtype, std::vector<int64_t> shape, const std::vector<T>& values) {
  std::vector<std::byte> bytes(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return Tensor(dtype, std::move(shape), Storage::owned(std::move(bytes)));
}

// ---------------------------------------------------------------------------------------
// Attributes
// ---------------------------------------------------------------------------------------
using GraphPtr = std::shared_ptr<Graph>;
using Attribute = std::variant<int64_t, double, std::string, Tensor, std::vector<int64_t>,
                               std::vector<double>, std::vector<std::string>, GraphPtr>;

enum class AttributeKind : uint8_t { Int, Float, String, Tensor, Ints, Floats, Strings, Graph };
AttributeKind attributeKind(const Attribute& attribute);
std::string_view attributeKindName(AttributeKind kind);

// ---------------------------------------------------------------------------------------
// Values and uses
// ---------------------------------------------------------------------------------------
struct Use {
  Node* user;
  size_t inputIndex;
  friend bool operator==(const Use&, const Use&) = default;
};

class Value {
 public:
  const std::string& name() const { return name_; }
  const Type& type() const { return type_; }
  void setType(Type type) { type_ = std::move(type); }

  // Node that defines this value, or nullptr for a graph input.
  Node* producer() const { return producer_; }
  size_t producerIndex() const { return producerIndex_; }
  // Graph whose input list or node list defines this value.
  Graph* owningGraph() const { return graph_; }

  // Every (node, input index) reading this value, in no particular order (removal is
  // O(1) and reorders); iterate a copy when the loop edits the graph.
  const std::vector<Use>& uses() const { return uses_; }
  bool hasUses() const { return !uses_.empty(); }
  // Is this value in a graph's output list: its owning graph's, or a nested graph's that
  // returns it directly as a capture (an If branch yielding an outer value)? Either way the
  // value is live even without uses.
  bool isGraphOutput() const { return graphOutputCount_ > 0; }
  bool isGraphInput() const { return producer_ == nullptr; }

  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;

 private:
  friend class Graph;
  friend class Node;
  Value(Graph* graph, std::string name, Type type) : graph_(graph), name_(std::move(name)), type_(std::move(type)) {}

  Graph* graph_;
  std::string name_;
  Type type_;
  Node* producer_ = nullptr;
  size_t producerIndex_ = 0;
  std::vector<Use> uses_;
  uint32_t graphOutputCount_ = 0;  // occurrences in any graph's output list
  // Nested graphs (one entry per occurrence) whose output list holds this value although
  // it is defined in an enclosing graph; lets replaceAllUsesWith stay O(uses).
  std::vector<Graph*> nestedOutputOf_;
};

// ---------------------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------------------
// Where a node came from: the module path (`layer1.0.conv1`) and a source range
// (`model.py:42`). Every error about a node quotes it.
struct Provenance {
  std::string modulePath;
  std::string sourceRange;
  bool empty() const { return modulePath.empty() && sourceRange.empty(); }
  friend bool operator==(const Provenance&, const Provenance&) = default;
};

class Node {
 public:
  // Kind is always qualified: "domain::name". The const node kind is kConstKind.
  const std::string& kind() const { return kind_; }
  std::string_view domain() const;   // "aten"
  std::string_view opName() const;   // "conv2d"
  bool isConstant() const;

  std::span<Value* const> inputs() const { return inputs_; }
  std::span<Value* const> outputs() const { return outputs_; }
  size_t numInputs() const { return inputs_.size(); }
  size_t numOutputs() const { return outputs_.size(); }
  Value* input(size_t i) const { return inputs_.at(i); }
  Value* output(size_t i = 0) const { return outputs_.at(i); }

  void addInput(Value* value);
  void setInput(size_t index, Value* value);
  void removeInput(size_t index);
  void removeAllInputs();
  // Creates an output value; an empty name gets a fresh unique one.
  Value* addOutput(Type type = {}, std::string_view name = {});
  // Removes output `index`; it must have no uses and not be a graph output.
  Status removeOutput(size_t index);

  // Attributes keep insertion order (printing is deterministic and round-trips).
  const std::vector<std::pair<std::string, Attribute>>& attributes() const { return attributes_; }
  bool hasAttribute(std::string_view name) const;
  const Attribute* findAttribute(std::string_view name) const;
  void setAttribute(std::string_view name, Attribute value);  // replaces in place or appends
  bool removeAttribute(std::string_view name);
  std::optional<int64_t> intAttr(std::string_view name) const;
  std::optional<double> floatAttr(std::string_view name) const;
  const std::string* stringAttr(std::string_view name) const;
  const std::vector<int64_t>* intsAttr(std::string_view name) const;
  const std::vector<double>* floatsAttr(std::string_view name) const;
  const Tensor* tensorAttr(std::string_view name) const;
  GraphPtr graphAttr(std::string_view name) const;

  const Provenance& provenance() const { return provenance_; }
  void setProvenance(Provenance p) { provenance_ = std::move(p); }
  // "aten::conv2d at layer1.0.conv1 (model.py:42)" for error messages.
  std::string describe() const;

  Graph* owningGraph() const { return graph_; }
  // Moves this node within its graph's node list.
  void moveBefore(Node* other);
  void moveAfter(Node* other);

  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node();

 private:
  friend class Graph;
  Node(Graph* graph, std::string kind) : graph_(graph), kind_(std::move(kind)) {}

  Graph* graph_;
  std::string kind_;
  std::vector<Value*> inputs_;
  // usePositions_[i]: where Use{this, i} sits in inputs_[i]->uses_, so that dropping an
  // input is O(1) even for a value read by a million nodes (a shared constant).
  std::vector<size_t> usePositions_;
  std::vector<Value*> outputs_;  // owned, see ownedOutputs_
  std::vector<std::unique_ptr<Value>> ownedOutputs_;
  std::vector<std::pair<std::string, Attribute>> attributes_;
  Provenance provenance_;
  std::list<std::unique_ptr<Node>>::iterator self_;  // position in graph_->nodes_
};

// Kind of constant nodes. Attribute "value" holds a Tensor (tensor-typed output) or an
// int / float / string / ints / floats / strings for scalar-typed outputs (bool as int,
// none without attribute). Optional string attribute "param" names the parameter it came
// from (state_dict key / initializer name).
inline constexpr std::string_view kConstKind = "prim::Constant";

// ---------------------------------------------------------------------------------------
// Graphs
// ---------------------------------------------------------------------------------------
class Graph {
 public:
  using NodeList = std::list<std::unique_ptr<Node>>;

  explicit Graph(std::string name = "main", Graph* parent = nullptr);
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  const std::string& name() const { return name_; }
  void setName(std::string name) { name_ = std::move(name); }
  // Enclosing graph for nested bodies, else nullptr. Names are unique across the whole
  // tree of graphs, so captures resolve by name.
  Graph* parent() const { return parent_; }
  Graph& root();

  // ---- graph inputs / outputs ----
  std::span<Value* const> inputs() const { return inputs_; }
  std::span<Value* const> outputs() const { return outputs_; }
  Value* addInput(Type type = {}, std::string_view name = {});
  // Removes input `index`; it must have no uses.
  Status removeInput(size_t index);
  void addOutput(Value* value);
  void setOutput(size_t index, Value* value);
  void removeOutput(size_t index);

  // ---- nodes (topological order) ----
  // Iteration: `for (Node* n : graph.nodes())`. Safe against erasing the current node if
  // you iterate over a snapshot: `for (Node* n : graph.nodeSnapshot())`.
  class NodeRange;
  NodeRange nodes() const;
  std::vector<Node*> nodeSnapshot() const;
  size_t numNodes() const { return nodes_.size(); }
  // Nodes of this graph and of every graph nested in it (If/Loop bodies); proportional to
  // the number of control-flow nodes, not to the graph's size.
  size_t numNodesDeep() const;

  // Creates a node with `numOutputs` fresh outputs of unknown type, appended at the end.
  Node* appendNode(std::string_view kind, std::span<Value* const> inputs = {}, size_t numOutputs = 1);
  Node* insertNodeBefore(Node* before, std::string_view kind, std::span<Value* const> inputs = {}, size_t numOutputs = 1);
  Node* insertNodeAfter(Node* after, std::string_view kind, std::span<Value* const> inputs = {}, size_t numOutputs = 1);
  // Constant node holding `tensor`, inserted before `before` (or appended when null).
  Node* createConstant(Tensor tensor, Node* before = nullptr, std::string_view name = {});
  // Erases a node. All of its outputs must be unused and not graph outputs.
  Status eraseNode(Node* node);

  // ---- rewiring ----
  // Every use of `from` (node inputs in this graph and nested graphs, graph outputs)
  // becomes `to`. Graph output names are stable: when `from` is a graph output, `to`
  // takes over its name. Fails (changing nothing) when that is impossible: `to` is a
  // graph input or already a graph output, or `to` is defined in a nested graph.
  Status replaceAllUsesWith(Value* from, Value* to);
  // True when replaceAllUsesWith(from, to) would succeed.
  bool canReplaceAllUsesWith(const Value* from, const Value* to) const;

  // ---- names ----
  // Returns `hint` if free, else hint.1, hint.2, ... (a number if hint is empty).
  std::string uniqueName(std::string_view hint = {});
  Value* findValue(std::string_view name) const;  // searches this graph tree
  // Renames a value; fails if the name is taken.
  Status renameValue(Value* value, std::string name);

  // ---- checks ----
  // Reports every broken invariant (use lists, dangling inputs, order, names, outputs).
  Status verify() const;
  bool isTopologicallySorted() const;

  // Deep copy (nested graphs included). Tensor storages are shared, not copied.
  // Cloning a root graph keeps every name. Cloning a nested graph gives a graph with the
  // same parent (sharing its name table, so cloned values get fresh unique names) whose
  // captures still refer to the enclosing graph's values: attach it to a node of the parent.
  std::unique_ptr<Graph> clone() const;

  // Nested graph owned by a node attribute; shares this graph's name table.
  GraphPtr createSubgraph(std::string name);

 private:
  friend class Node;
  friend class Value;
  struct NameTable;
  Node* insertNode(NodeList::iterator position, std::string_view kind, std::span<Value* const> inputs, size_t numOutputs);
  std::string claimName(std::string_view hint);
  void releaseName(const std::string& name);

  std::string name_;
  Graph* parent_;
  std::shared_ptr<NameTable> names_;
  std::vector<std::unique_ptr<Value>> ownedInputs_;
  std::vector<Value*> inputs_;
  std::vector<Value*> outputs_;
  NodeList nodes_;
  std::unordered_set<const Node*> graphOwners_;  // nodes of nodes_ with a graph attribute
};

class Graph::NodeRange {
 public:
  class iterator {
   public:
    using difference_type = std::ptrdiff_t;
    using value_type = Node*;
    iterator() = default;
    explicit iterator(NodeList::const_iterator it) : it_(it) {}
    Node* operator*() const { return it_->get(); }
    iterator& operator++() { ++it_; return *this; }
    iterator operator++(int) { auto t = *this; ++it_; return t; }
    friend bool operator==(const iterator&, const iterator&) = default;
   private:
    NodeList::const_iterator it_;
  };
  NodeRange(const NodeList& list) : list_(&list) {}
  iterator begin() const { return iterator(list_->begin()); }
  iterator end() const { return iterator(list_->end()); }
  bool empty() const { return list_->empty(); }
 private:
  const NodeList* list_;
};

inline Graph::NodeRange Graph::nodes() const { return NodeRange(nodes_); }

}  // namespace torchport
