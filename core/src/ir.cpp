// Graph / Node / Value: construction, use lists, rewiring, names, verification, cloning.
//
// Cost model (graphs of millions of nodes are normal): every mutation is O(1) or
// O(uses of the values involved); nothing here scans a whole graph except verify(),
// isTopologicallySorted() and clone(), which are linear.
//
// Bookkeeping that keeps that promise:
//  - Value::uses_ lists every (node, input index) reading the value, including nodes of
//    nested graphs (captures), in no particular order: each node records where its uses
//    sit (Node::usePositions_), and removing one moves the last use into its slot, O(1).
//  - Value::graphOutputCount_ counts occurrences in graph output lists (its own graph's
//    and nested graphs' that return it as a capture); nestedOutputOf_ lists the latter.
//  - Names live in one table shared by a root graph and all its nested graphs.
#include <algorithm>
#include <cassert>
#include <unordered_map>
#include <unordered_set>

#include "torchport/ir.h"
#include "torchport/op_traits.h"

namespace torchport {

// ---------------------------------------------------------------------------------------
// Attributes
// ---------------------------------------------------------------------------------------
AttributeKind attributeKind(const Attribute& attribute) {
  switch (attribute.index()) {
    case 0: return AttributeKind::Int;
    case 1: return AttributeKind::Float;
    case 2: return AttributeKind::String;
    case 3: return AttributeKind::Tensor;
    case 4: return AttributeKind::Ints;
    case 5: return AttributeKind::Floats;
    case 6: return AttributeKind::Strings;
    default: return AttributeKind::Graph;
  }
}

std::string_view attributeKindName(AttributeKind kind) {
  switch (kind) {
    case AttributeKind::Int: return "int";
    case AttributeKind::Float: return "float";
    case AttributeKind::String: return "string";
    case AttributeKind::Tensor: return "tensor";
    case AttributeKind::Ints: return "ints";
    case AttributeKind::Floats: return "floats";
    case AttributeKind::Strings: return "strings";
    case AttributeKind::Graph: return "graph";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------
// The name table, plus the internal helpers that need private access to Value, Node and
// Graph (a nested class of Graph shares Graph's friendships).
// ---------------------------------------------------------------------------------------
namespace {
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
}  // namespace

struct Graph::NameTable {
  using Map = std::unordered_map<std::string, Value*, StringHash, std::equal_to<>>;
  // Value* is null only between claim() and the value's construction.
  Map byName;
  // Next suffix to try per hint, so that hint.N lookups stay O(1) amortized.
  std::unordered_map<std::string, uint64_t, StringHash, std::equal_to<>> nextSuffix;
  uint64_t nextNumber = 0;
  // Set when the root graph is being destroyed: releasing names one by one is wasted work.
  bool dying = false;

  bool taken(std::string_view name) const { return byName.find(name) != byName.end(); }

  // The name claim() would pick, without claiming it.
  std::string freeName(std::string_view hint) {
    if (hint.empty()) {
      while (taken(std::to_string(nextNumber))) ++nextNumber;
      return std::to_string(nextNumber);
    }
    if (!taken(hint)) return std::string(hint);
    auto [it, inserted] = nextSuffix.try_emplace(std::string(hint), 1);
    std::string prefix = std::string(hint) + ".";
    while (taken(prefix + std::to_string(it->second))) ++it->second;
    return prefix + std::to_string(it->second);
  }

  // Reserves a free name for `hint` (one hash operation in the common case).
  Map::iterator claim(std::string_view hint) {
    if (hint.empty()) {
      for (;; ++nextNumber) {
        auto [it, inserted] = byName.try_emplace(std::to_string(nextNumber), nullptr);
        if (inserted) {
          ++nextNumber;
          return it;
        }
      }
    }
    if (auto [it, inserted] = byName.try_emplace(std::string(hint), nullptr); inserted) return it;
    auto [suffix, ignored] = nextSuffix.try_emplace(std::string(hint), 1);
    std::string prefix = std::string(hint) + ".";
    for (;; ++suffix->second) {
      auto [it, inserted] = byName.try_emplace(prefix + std::to_string(suffix->second), nullptr);
      if (inserted) return it;
    }
  }

  // ---- values ----
  static std::unique_ptr<Value> newValue(Graph* graph, std::string_view hint, Type type) {
    auto slot = graph->names_->claim(hint);
    // Value's constructor is private to Graph/Node, so make_unique cannot be used.
    std::unique_ptr<Value> value(new Value(graph, slot->first, std::move(type)));
    slot->second = value.get();
    return value;
  }

  static void release(Value* value) {
    NameTable& names = *value->graph_->names_;
    if (names.dying) return;
    auto it = names.byName.find(value->name_);
    if (it != names.byName.end() && it->second == value) names.byName.erase(it);
  }

  // ---- uses ----
  // Use lists are unordered: removal swaps the last use into the freed slot (O(1)), and
  // each node remembers where its uses sit (Node::usePositions_).
  static void addUse(Value* value, Node* user, size_t index) {
    if (value == nullptr) return;
    user->usePositions_[index] = value->uses_.size();
    value->uses_.push_back(Use{user, index});
  }

  static void removeUse(Value* value, Node* user, size_t index) {
    if (value == nullptr) return;
    auto& uses = value->uses_;
    const size_t position = user->usePositions_[index];
    assert(position < uses.size() && uses[position] == (Use{user, index}));
    if (position >= uses.size()) return;
    if (position + 1 != uses.size()) {
      uses[position] = uses.back();
      uses[position].user->usePositions_[uses[position].inputIndex] = position;
    }
    uses.pop_back();
  }

  // Input `from` of `user` becomes input `to` (the caller then moves usePositions_ along).
  static void renumberUse(Value* value, Node* user, size_t from, size_t to) {
    if (value == nullptr) return;
    value->uses_[user->usePositions_[from]].inputIndex = to;
  }

  // ---- graph outputs ----
  static void noteOutputAdded(Graph* graph, Value* value) {
    if (value == nullptr) return;
    ++value->graphOutputCount_;
    if (value->graph_ != graph) value->nestedOutputOf_.push_back(graph);
  }

  static void noteOutputRemoved(Graph* graph, Value* value) {
    if (value == nullptr) return;
    if (value->graphOutputCount_ > 0) --value->graphOutputCount_;
    if (value->graph_ != graph) {
      auto& list = value->nestedOutputOf_;
      auto it = std::find(list.begin(), list.end(), graph);
      if (it != list.end()) list.erase(it);
    }
  }

  // Occurrences in the output list of the value's own graph.
  static size_t ownOutputCount(const Value* value) {
    return value->graphOutputCount_ - std::min<size_t>(value->graphOutputCount_, value->nestedOutputOf_.size());
  }

  static void replaceInOutputs(Graph* graph, Value* from, Value* to) {
    for (Value*& slot : graph->outputs_) {
      if (slot != from) continue;
      noteOutputRemoved(graph, from);
      slot = to;
      noteOutputAdded(graph, to);
    }
  }

  // Detaches every node input and graph output of `graph` and its nested graphs from the
  // values they refer to, while all of them are still alive; destruction can then proceed
  // in any order (captured outer values never see a dangling use).
  static void dropAllReferences(Graph& graph) {
    for (auto it = graph.nodes_.rbegin(); it != graph.nodes_.rend(); ++it) {
      Node* node = it->get();
      for (auto& [name, attribute] : node->attributes_) {
        if (auto* sub = std::get_if<GraphPtr>(&attribute); sub != nullptr && *sub != nullptr) dropAllReferences(**sub);
      }
      node->removeAllInputs();
    }
    while (!graph.outputs_.empty()) {
      noteOutputRemoved(&graph, graph.outputs_.back());
      graph.outputs_.pop_back();
    }
  }

  static Status checkReplace(const Graph& graph, const Value* from, const Value* to);
  static void verifyTree(const Graph& root, std::vector<std::string>& problems);
};

namespace {

std::string percent(const Value* value) { return "%" + value->name(); }

// "the 3 uses of %x (first: aten::add at ...)".
std::string describeUsers(const Value* value) {
  std::string out;
  if (value->hasUses()) {
    out = "it is still used by " + value->uses().front().user->describe();
    if (value->uses().size() > 1) out += " and " + std::to_string(value->uses().size() - 1) + " more";
  }
  if (value->isGraphOutput()) out += out.empty() ? "it is a graph output" : " and is a graph output";
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Node
// ---------------------------------------------------------------------------------------
std::string_view Node::domain() const {
  size_t separator = kind_.find("::");
  return separator == std::string::npos ? std::string_view() : std::string_view(kind_).substr(0, separator);
}

std::string_view Node::opName() const {
  size_t separator = kind_.find("::");
  return separator == std::string::npos ? std::string_view(kind_) : std::string_view(kind_).substr(separator + 2);
}

bool Node::isConstant() const { return kind_ == kConstKind; }

void Node::addInput(Value* value) {
  inputs_.push_back(value);
  usePositions_.push_back(0);
  Graph::NameTable::addUse(value, this, inputs_.size() - 1);
}

void Node::setInput(size_t index, Value* value) {
  if (index >= inputs_.size()) {
    assert(false && "Node::setInput: index out of range");
    return;
  }
  Value* old = inputs_[index];
  if (old == value) return;
  Graph::NameTable::removeUse(old, this, index);
  inputs_[index] = value;
  Graph::NameTable::addUse(value, this, index);
}

void Node::removeInput(size_t index) {
  if (index >= inputs_.size()) {
    assert(false && "Node::removeInput: index out of range");
    return;
  }
  Graph::NameTable::removeUse(inputs_[index], this, index);
  for (size_t j = index + 1; j < inputs_.size(); ++j) Graph::NameTable::renumberUse(inputs_[j], this, j, j - 1);
  inputs_.erase(inputs_.begin() + static_cast<std::ptrdiff_t>(index));
  usePositions_.erase(usePositions_.begin() + static_cast<std::ptrdiff_t>(index));
}

void Node::removeAllInputs() {
  for (size_t i = inputs_.size(); i-- > 0;) Graph::NameTable::removeUse(inputs_[i], this, i);
  inputs_.clear();
  usePositions_.clear();
}

Value* Node::addOutput(Type type, std::string_view name) {
  auto value = Graph::NameTable::newValue(graph_, name, std::move(type));
  value->producer_ = this;
  value->producerIndex_ = outputs_.size();
  outputs_.push_back(value.get());
  ownedOutputs_.push_back(std::move(value));
  return outputs_.back();
}

Status Node::removeOutput(size_t index) {
  if (index >= outputs_.size()) {
    return Status::internal(describe() + ": cannot remove output #" + std::to_string(index) + ": the node has only " +
                            std::to_string(outputs_.size()) + " outputs");
  }
  Value* value = outputs_[index];
  if (value->hasUses() || value->isGraphOutput()) {
    return Status::internal(describe() + ": cannot remove output " + percent(value) + ": " + describeUsers(value));
  }
  Graph::NameTable::release(value);
  outputs_.erase(outputs_.begin() + static_cast<std::ptrdiff_t>(index));
  ownedOutputs_.erase(ownedOutputs_.begin() + static_cast<std::ptrdiff_t>(index));
  for (size_t k = index; k < outputs_.size(); ++k) outputs_[k]->producerIndex_ = k;
  return Status::ok();
}

bool Node::hasAttribute(std::string_view name) const { return findAttribute(name) != nullptr; }

const Attribute* Node::findAttribute(std::string_view name) const {
  for (const auto& [key, value] : attributes_) {
    if (key == name) return &value;
  }
  return nullptr;
}

void Node::setAttribute(std::string_view name, Attribute value) {
  if (std::holds_alternative<GraphPtr>(value)) graph_->graphOwners_.insert(this);
  for (auto& [key, existing] : attributes_) {
    if (key == name) {
      existing = std::move(value);
      if (!hasGraphAttribute(*this)) graph_->graphOwners_.erase(this);
      return;
    }
  }
  attributes_.emplace_back(std::string(name), std::move(value));
}

bool Node::removeAttribute(std::string_view name) {
  for (auto it = attributes_.begin(); it != attributes_.end(); ++it) {
    if (it->first == name) {
      attributes_.erase(it);
      if (!hasGraphAttribute(*this)) graph_->graphOwners_.erase(this);
      return true;
    }
  }
  return false;
}

std::optional<int64_t> Node::intAttr(std::string_view name) const {
  const Attribute* a = findAttribute(name);
  if (a == nullptr) return std::nullopt;
  if (const auto* v = std::get_if<int64_t>(a)) return *v;
  return std::nullopt;
}

// Ints widen: `alpha=1` in hand-written IR means 1.0.
std::optional<double> Node::floatAttr(std::string_view name) const {
  const Attribute* a = findAttribute(name);
  if (a == nullptr) return std::nullopt;
  if (const auto* v = std::get_if<double>(a)) return *v;
  if (const auto* v = std::get_if<int64_t>(a)) return static_cast<double>(*v);
  return std::nullopt;
}

const std::string* Node::stringAttr(std::string_view name) const {
  const Attribute* a = findAttribute(name);
  return a == nullptr ? nullptr : std::get_if<std::string>(a);
}

const std::vector<int64_t>* Node::intsAttr(std::string_view name) const {
  const Attribute* a = findAttribute(name);
  return a == nullptr ? nullptr : std::get_if<std::vector<int64_t>>(a);
}

const std::vector<double>* Node::floatsAttr(std::string_view name) const {
  const Attribute* a = findAttribute(name);
  return a == nullptr ? nullptr : std::get_if<std::vector<double>>(a);
}

const Tensor* Node::tensorAttr(std::string_view name) const {
  const Attribute* a = findAttribute(name);
  return a == nullptr ? nullptr : std::get_if<Tensor>(a);
}

GraphPtr Node::graphAttr(std::string_view name) const {
  const Attribute* a = findAttribute(name);
  if (a == nullptr) return nullptr;
  const auto* g = std::get_if<GraphPtr>(a);
  return g == nullptr ? nullptr : *g;
}

// "aten::conv2d at layer1.0.conv1 (model.py:42)"; without provenance the first output
// names the node: "aten::add producing %3".
std::string Node::describe() const {
  std::string out = kind_;
  if (!provenance_.modulePath.empty()) out += " at " + provenance_.modulePath;
  if (!provenance_.sourceRange.empty()) out += " (" + provenance_.sourceRange + ")";
  if (provenance_.empty() && !outputs_.empty() && outputs_.front() != nullptr) {
    out += " producing %" + outputs_.front()->name();
  }
  return out;
}

void Node::moveBefore(Node* other) {
  if (other == nullptr || other == this || other->graph_ != graph_) {
    assert((other == this || (other != nullptr && other->graph_ == graph_)) && "moveBefore across graphs");
    return;
  }
  graph_->nodes_.splice(other->self_, graph_->nodes_, self_);
}

void Node::moveAfter(Node* other) {
  if (other == nullptr || other == this || other->graph_ != graph_) {
    assert((other == this || (other != nullptr && other->graph_ == graph_)) && "moveAfter across graphs");
    return;
  }
  graph_->nodes_.splice(std::next(other->self_), graph_->nodes_, self_);
}

Node::~Node() {
  removeAllInputs();
  for (Value* output : outputs_) Graph::NameTable::release(output);
}

// ---------------------------------------------------------------------------------------
// Graph: construction, I/O
// ---------------------------------------------------------------------------------------
Graph::Graph(std::string name, Graph* parent)
    : name_(std::move(name)), parent_(parent), names_(parent != nullptr ? parent->names_ : std::make_shared<NameTable>()) {}

Graph::~Graph() {
  if (parent_ == nullptr) names_->dying = true;  // the whole tree goes
  NameTable::dropAllReferences(*this);
  while (!nodes_.empty()) nodes_.pop_back();  // users before producers
  for (Value* input : inputs_) NameTable::release(input);
}

Graph& Graph::root() {
  Graph* graph = this;
  while (graph->parent_ != nullptr) graph = graph->parent_;
  return *graph;
}

Value* Graph::addInput(Type type, std::string_view name) {
  auto value = NameTable::newValue(this, name, std::move(type));
  inputs_.push_back(value.get());
  ownedInputs_.push_back(std::move(value));
  return inputs_.back();
}

Status Graph::removeInput(size_t index) {
  if (index >= inputs_.size()) {
    return Status::internal("graph @" + name_ + ": cannot remove input #" + std::to_string(index) + ": it has only " +
                            std::to_string(inputs_.size()) + " inputs");
  }
  Value* value = inputs_[index];
  if (value->hasUses() || value->isGraphOutput()) {
    return Status::internal("graph @" + name_ + ": cannot remove input " + percent(value) + ": " + describeUsers(value));
  }
  NameTable::release(value);
  inputs_.erase(inputs_.begin() + static_cast<std::ptrdiff_t>(index));
  auto owned = std::find_if(ownedInputs_.begin(), ownedInputs_.end(), [&](const auto& p) { return p.get() == value; });
  if (owned != ownedInputs_.end()) ownedInputs_.erase(owned);
  return Status::ok();
}

void Graph::addOutput(Value* value) {
  outputs_.push_back(value);
  NameTable::noteOutputAdded(this, value);
}

void Graph::setOutput(size_t index, Value* value) {
  if (index >= outputs_.size()) {
    assert(false && "Graph::setOutput: index out of range");
    return;
  }
  NameTable::noteOutputRemoved(this, outputs_[index]);
  outputs_[index] = value;
  NameTable::noteOutputAdded(this, value);
}

void Graph::removeOutput(size_t index) {
  if (index >= outputs_.size()) {
    assert(false && "Graph::removeOutput: index out of range");
    return;
  }
  NameTable::noteOutputRemoved(this, outputs_[index]);
  outputs_.erase(outputs_.begin() + static_cast<std::ptrdiff_t>(index));
}

// ---------------------------------------------------------------------------------------
// Graph: nodes
// ---------------------------------------------------------------------------------------
std::vector<Node*> Graph::nodeSnapshot() const {
  std::vector<Node*> snapshot;
  snapshot.reserve(nodes_.size());
  for (const auto& node : nodes_) snapshot.push_back(node.get());
  return snapshot;
}

Node* Graph::insertNode(NodeList::iterator position, std::string_view kind, std::span<Value* const> inputs,
                        size_t numOutputs) {
  // Node's constructor is private to Graph, so make_unique cannot be used.
  std::unique_ptr<Node> owned(new Node(this, std::string(kind)));
  Node* node = owned.get();
  node->self_ = nodes_.insert(position, std::move(owned));
  node->inputs_.reserve(inputs.size());
  for (Value* input : inputs) node->addInput(input);
  for (size_t i = 0; i < numOutputs; ++i) node->addOutput();
  return node;
}

Node* Graph::appendNode(std::string_view kind, std::span<Value* const> inputs, size_t numOutputs) {
  return insertNode(nodes_.end(), kind, inputs, numOutputs);
}

// The anchor node decides the graph: inserting next to a node of a nested graph inserts
// into that nested graph.
Node* Graph::insertNodeBefore(Node* before, std::string_view kind, std::span<Value* const> inputs, size_t numOutputs) {
  if (before == nullptr) return appendNode(kind, inputs, numOutputs);
  return before->graph_->insertNode(before->self_, kind, inputs, numOutputs);
}

// A null anchor inserts at the beginning (so repeated insertNodeAfter(previous) builds a
// sequence in order).
Node* Graph::insertNodeAfter(Node* after, std::string_view kind, std::span<Value* const> inputs, size_t numOutputs) {
  if (after == nullptr) return insertNode(nodes_.begin(), kind, inputs, numOutputs);
  return after->graph_->insertNode(std::next(after->self_), kind, inputs, numOutputs);
}

Node* Graph::createConstant(Tensor tensor, Node* before, std::string_view name) {
  Node* node = insertNodeBefore(before, kConstKind, {}, 0);
  node->addOutput(Type::tensor(tensor.dtype(), tensor.shape()), name);
  node->setAttribute("value", std::move(tensor));
  return node;
}

size_t Graph::numNodesDeep() const {
  size_t count = nodes_.size();
  for (const Node* owner : graphOwners_) {
    for (const auto& [name, attribute] : owner->attributes_) {
      if (const auto* sub = std::get_if<GraphPtr>(&attribute); sub != nullptr && *sub != nullptr) {
        count += (*sub)->numNodesDeep();
      }
    }
  }
  return count;
}

Status Graph::eraseNode(Node* node) {
  if (node == nullptr) return Status::internal("Graph::eraseNode called with a null node");
  for (Value* output : node->outputs_) {
    if (output->hasUses() || output->isGraphOutput()) {
      return Status::internal("cannot erase " + node->describe() + ": its output " + percent(output) + " is needed: " +
                              describeUsers(output) + " (replace its uses first)");
    }
  }
  Graph* owner = node->graph_;
  node->removeAllInputs();
  owner->graphOwners_.erase(node);
  owner->nodes_.erase(node->self_);  // destroys the node and its outputs
  return Status::ok();
}

// ---------------------------------------------------------------------------------------
// Graph: rewiring
// ---------------------------------------------------------------------------------------
Status Graph::NameTable::checkReplace(const Graph& graph, const Value* from, const Value* to) {
  if (from == nullptr || to == nullptr) return Status::internal("replaceAllUsesWith called with a null value");
  if (from == to) return Status::ok();
  // Built only on failure: passes call this for every merge of a million-node graph.
  const auto what = [&] { return "cannot replace " + percent(from) + " by " + percent(to) + ": "; };
  if (from->graph_->names_ != graph.names_ || to->graph_->names_ != graph.names_) {
    return Status::internal(what() + "the values belong to another graph than @" + graph.name_);
  }
  // Every reader of `from` lives in from's graph or a graph nested in it, so `to` must be
  // defined there or in an enclosing graph.
  bool visible = false;
  for (const Graph* g = from->graph_; g != nullptr; g = g->parent_) {
    if (g == to->graph_) {
      visible = true;
      break;
    }
  }
  if (!visible) {
    return Status::internal(what() + percent(to) + " is defined in graph @" + to->graph_->name_ +
                            ", which does not enclose graph @" + from->graph_->name_ + " where " + percent(from) +
                            " is defined");
  }
  // Output names of the root graph are the model's interface: `to` must take over the
  // name of `from`, which is impossible for inputs and for values already named outputs.
  if (from->graph_->parent_ == nullptr && ownOutputCount(from) > 0) {
    if (from->isGraphInput()) {
      return Status::internal(what() + percent(from) + " is both a graph input and a graph output");
    }
    if (to->isGraphInput()) {
      return Status::internal(what() + percent(from) + " is a graph output whose name must stay, and " + percent(to) +
                              " is a graph input (keep an identity op between them)");
    }
    if (ownOutputCount(to) > 0) {
      return Status::internal(what() + "both are graph outputs, and each output name must stay (keep an identity op "
                              "between them)");
    }
  }
  return Status::ok();
}

bool Graph::canReplaceAllUsesWith(const Value* from, const Value* to) const {
  return NameTable::checkReplace(*this, from, to).isOk();
}

Status Graph::replaceAllUsesWith(Value* from, Value* to) {
  TP_RETURN_IF_ERROR(NameTable::checkReplace(*this, from, to));
  if (from == to) return Status::ok();
  const bool takeOverName = from->graph_->parent_ == nullptr && NameTable::ownOutputCount(from) > 0;

  // No exact reserve here: it would defeat geometric growth and make merging many values
  // into one (CSE of duplicated constants) quadratic.
  for (const Use& use : from->uses_) {
    use.user->inputs_[use.inputIndex] = to;
    use.user->usePositions_[use.inputIndex] = to->uses_.size();
    to->uses_.push_back(use);
  }
  from->uses_.clear();

  if (NameTable::ownOutputCount(from) > 0) NameTable::replaceInOutputs(from->graph_, from, to);
  if (!from->nestedOutputOf_.empty()) {
    std::vector<Graph*> nested = from->nestedOutputOf_;
    std::sort(nested.begin(), nested.end());
    nested.erase(std::unique(nested.begin(), nested.end()), nested.end());
    for (Graph* g : nested) NameTable::replaceInOutputs(g, from, to);
  }

  if (takeOverName) {
    // Swap: both names stay claimed, and `from` (usually erased next) keeps a valid one.
    auto& table = names_->byName;
    std::swap(from->name_, to->name_);
    table[from->name_] = from;
    table[to->name_] = to;
  }
  return Status::ok();
}

// ---------------------------------------------------------------------------------------
// Graph: names
// ---------------------------------------------------------------------------------------
std::string Graph::uniqueName(std::string_view hint) { return names_->freeName(hint); }

std::string Graph::claimName(std::string_view hint) { return names_->claim(hint)->first; }

void Graph::releaseName(const std::string& name) { names_->byName.erase(name); }

Value* Graph::findValue(std::string_view name) const {
  auto it = names_->byName.find(name);
  return it == names_->byName.end() ? nullptr : it->second;
}

Status Graph::renameValue(Value* value, std::string name) {
  if (value == nullptr) return Status::internal("renameValue called with a null value");
  if (name == value->name_) return Status::ok();
  if (name.empty()) return Status::input("cannot rename " + percent(value) + " to an empty name");
  auto& table = names_->byName;
  if (table.find(name) != table.end()) {
    return Status::input("cannot rename " + percent(value) + " to %" + name +
                         ": that name is already used in this graph; pick another one");
  }
  NameTable::release(value);
  value->name_ = std::move(name);
  table[value->name_] = value;
  return Status::ok();
}

// ---------------------------------------------------------------------------------------
// Graph: checks
// ---------------------------------------------------------------------------------------
namespace {

struct GraphFacts {
  const Graph* enclosing = nullptr;  // graph holding the owner node (nullptr for the root)
  const Node* owner = nullptr;
  size_t ownerPosition = 0;
};

// What verify learns about a value: where it is defined (position 0 = graph input,
// k = output of the k-th node, 1-based) and how often it is read and returned.
struct ValueFacts {
  const Graph* graph = nullptr;
  size_t position = 0;
  size_t expectedUses = 0;
  size_t expectedOutputs = 0;
};

std::string graphLabel(const Graph* graph) { return "graph @" + graph->name(); }

}  // namespace

// Linear in the size of the tree (a few hash operations per node and value). Messages are
// built only for problems found.
void Graph::NameTable::verifyTree(const Graph& root, std::vector<std::string>& problems) {
  std::unordered_map<const Graph*, GraphFacts> graphs;
  std::vector<const Graph*> graphOrder;
  std::unordered_map<const Value*, ValueFacts> values;
  std::unordered_set<const Node*> nodes;
  std::unordered_map<const Value*, std::vector<Graph*>> expectedNested;  // rare: returned captures

  // ---- collect: every graph, node and value of the tree, with positions ----
  size_t nodeCount = 0;
  auto countNodes = [&](auto&& self, const Graph* graph, size_t depth) -> void {
    nodeCount += graph->nodes_.size();
    if (depth > 1000) return;  // cycles are reported by collect below
    for (const auto& node : graph->nodes_) {
      for (const auto& [name, attribute] : node->attributes_) {
        const auto* sub = std::get_if<GraphPtr>(&attribute);
        if (sub != nullptr && *sub != nullptr) self(self, sub->get(), depth + 1);
      }
    }
  };
  countNodes(countNodes, &root, 0);
  nodes.reserve(nodeCount);
  values.reserve(nodeCount + root.inputs_.size() + 16);

  auto addValue = [&](const Value* value, const Graph* graph, size_t position, auto&& context) {
    if (value == nullptr) return;
    if (!values.emplace(value, ValueFacts{graph, position, 0, 0}).second) {
      problems.push_back(context() + ": value " + percent(value) + " is defined twice (as a graph input or node output)");
    }
  };
  auto collect = [&](auto&& self, const Graph* graph, GraphFacts facts) -> void {
    // Bodies are reached through node attributes; a graph reached twice is shared.
    if (!graphs.emplace(graph, facts).second) {
      const Node* first = graphs[graph].owner;
      problems.push_back(graphLabel(graph) + " is attached to more than one node (" +
                         (first == nullptr ? std::string("it is the root graph") : first->describe()) + " and " +
                         facts.owner->describe() + "); clone it for the second one");
      return;
    }
    graphOrder.push_back(graph);
    for (const Value* input : graph->inputs_) addValue(input, graph, 0, [&] { return graphLabel(graph); });
    size_t position = 1;
    for (const auto& owned : graph->nodes_) {
      const Node* node = owned.get();
      nodes.insert(node);
      for (const Value* output : node->outputs_) addValue(output, graph, position, [&] { return node->describe(); });
      for (const auto& [name, attribute] : node->attributes_) {
        const auto* sub = std::get_if<GraphPtr>(&attribute);
        if (sub != nullptr && *sub != nullptr) self(self, sub->get(), GraphFacts{graph, node, position});
      }
      ++position;
    }
  };
  collect(collect, &root, GraphFacts{});

  // `where` builds "<graph>: <node>: input #i" lazily: only failures pay for the text.
  auto checkReference = [&](const Value* value, const Graph* graph, size_t position, auto&& where) -> ValueFacts* {
    if (value == nullptr) {
      problems.push_back(where() + " is null");
      return nullptr;
    }
    auto it = values.find(value);
    if (it == values.end()) {
      problems.push_back(where() + " refers to a value that is not defined in this graph tree (erased, or from another graph)");
      return nullptr;
    }
    const ValueFacts& defined = it->second;
    for (const Graph* g = graph; g != nullptr;) {
      if (defined.graph == g) {
        if (defined.position >= position) {
          problems.push_back(where() + " " + percent(value) +
                             " is used before it is defined (nodes are not in topological order)");
        }
        return &it->second;
      }
      const GraphFacts& facts = graphs.at(g);
      position = facts.ownerPosition;
      g = facts.enclosing;
    }
    problems.push_back(where() + " " + percent(value) + " is defined in " + graphLabel(defined.graph) +
                       ", which does not enclose " + graphLabel(graph));
    return &it->second;
  };

  // ---- structure of each graph ----
  for (const Graph* graph : graphOrder) {
    const GraphFacts& facts = graphs.at(graph);
    const std::string label = graphLabel(graph);
    if (graph->parent_ != facts.enclosing) {
      problems.push_back(label + ": its parent pointer is " +
                         (graph->parent_ == nullptr ? std::string("null") : graphLabel(graph->parent_)) +
                         " but it is attached to " +
                         (facts.owner == nullptr ? std::string("nothing") : facts.owner->describe()) +
                         (facts.enclosing == nullptr ? std::string() : " in " + graphLabel(facts.enclosing)) +
                         " (create nested graphs with Graph::createSubgraph on the enclosing graph)");
    }
    if (graph->names_ != root.names_) {
      problems.push_back(label + ": does not share the name table of " + graphLabel(&root) +
                         " (create nested graphs with Graph::createSubgraph)");
    }
    bool ownedMatch = graph->ownedInputs_.size() == graph->inputs_.size();
    for (size_t i = 0; i < graph->inputs_.size(); ++i) {
      const Value* input = graph->inputs_[i];
      if (input == nullptr) {
        problems.push_back(label + ": input #" + std::to_string(i) + " is null");
        ownedMatch = false;
        continue;
      }
      if (ownedMatch && graph->ownedInputs_[i].get() != input) ownedMatch = false;
      if (input->graph_ != graph) problems.push_back(label + ": input " + percent(input) + " says it belongs to another graph");
      if (input->producer_ != nullptr) {
        problems.push_back(label + ": input " + percent(input) + " has a producer (" + input->producer_->kind() + ")");
      }
    }
    if (!ownedMatch) problems.push_back(label + ": its input list does not match the inputs it owns");

    size_t position = 1;
    size_t graphOwnersSeen = 0;
    for (const auto& owned : graph->nodes_) {
      const Node* node = owned.get();
      auto context = [&]() -> std::string { return label + ": " + node->describe(); };
      if (node->graph_ != graph) problems.push_back(context() + ": its owning-graph pointer is wrong");
      const size_t separator = node->kind_.find("::");
      if (separator == std::string::npos || separator == 0 || separator + 2 >= node->kind_.size()) {
        problems.push_back(context() + ": kind '" + node->kind_ + "' is not qualified as domain::name");
      }
      bool outputsOwned = node->ownedOutputs_.size() == node->outputs_.size();
      for (size_t k = 0; k < node->outputs_.size(); ++k) {
        const Value* output = node->outputs_[k];
        if (output == nullptr) {
          problems.push_back(context() + ": output #" + std::to_string(k) + " is null");
          outputsOwned = false;
          continue;
        }
        if (outputsOwned && node->ownedOutputs_[k].get() != output) outputsOwned = false;
        if (output->producer_ != node || output->producerIndex_ != k) {
          problems.push_back(context() + ": output #" + std::to_string(k) + " " + percent(output) +
                             " does not point back to this node at index " + std::to_string(k));
        }
        if (output->graph_ != graph) {
          problems.push_back(context() + ": output " + percent(output) + " says it belongs to another graph");
        }
      }
      if (!outputsOwned) problems.push_back(context() + ": its output list does not match the outputs it owns");
      if (hasGraphAttribute(*node)) {
        ++graphOwnersSeen;
        if (graph->graphOwners_.count(node) == 0) problems.push_back(context() + ": missing from its graph's control-flow index");
      }
      for (size_t i = 0; i < node->inputs_.size(); ++i) {
        auto where = [&] { return context() + ": input #" + std::to_string(i); };
        if (ValueFacts* read = checkReference(node->inputs_[i], graph, position, where)) ++read->expectedUses;
      }
      ++position;
    }

    if (graphOwnersSeen != graph->graphOwners_.size()) {
      problems.push_back(label + ": its control-flow index lists nodes that are gone or hold no graph");
    }
    for (size_t j = 0; j < graph->outputs_.size(); ++j) {
      Value* output = graph->outputs_[j];
      auto where = [&] { return label + ": output #" + std::to_string(j); };
      ValueFacts* returned = checkReference(output, graph, static_cast<size_t>(-1), where);
      if (returned == nullptr) continue;
      ++returned->expectedOutputs;
      if (output->graph_ != graph) expectedNested[output].push_back(const_cast<Graph*>(graph));
    }
  }

  // ---- per value: names, use lists, output bookkeeping ----
  const Map& table = root.names_->byName;
  size_t detailedUseReports = 0;
  auto checkValue = [&](const Value* value) {
    if (value == nullptr) return;
    const ValueFacts& facts = values.at(value);
    // Only failures pay for the text (this runs for every value after every changing pass).
    auto labelText = [value] { return percent(value); };
    if (value->name_.empty()) {
      problems.push_back("a value of " + graphLabel(value->graph_) + " has an empty name");
    } else if (auto it = table.find(value->name_); it == table.end() || it->second != value) {
      const bool duplicate = it != table.end() && it->second != nullptr && values.count(it->second) != 0 &&
                             it->second->name_ == value->name_;
      problems.push_back(duplicate ? "two values are named " + labelText() +
                                         " (names are unique across a graph and its nested graphs)"
                                   : labelText() + " is missing from the name table (rename values with Graph::renameValue)");
    }

    size_t valid = 0;
    for (const Use& use : value->uses_) {
      if (nodes.count(use.user) == 0) {
        problems.push_back(labelText() + ": its use list refers to a node that is not in the graph (erased?)");
      } else if (use.inputIndex >= use.user->inputs_.size() || use.user->inputs_[use.inputIndex] != value) {
        problems.push_back(labelText() + ": its use list says input #" + std::to_string(use.inputIndex) + " of " +
                           use.user->describe() + " reads it, but it does not");
      } else {
        ++valid;
      }
    }
    if (valid > facts.expectedUses) {
      problems.push_back(labelText() + ": its use list has duplicate entries");
    } else if (valid < facts.expectedUses) {
      // Name the readers missing from the use list (slow path; bounded).
      std::string readers;
      if (detailedUseReports++ < 16) {
        for (const Graph* graph : graphOrder) {
          for (const auto& node : graph->nodes_) {
            for (size_t i = 0; i < node->inputs_.size(); ++i) {
              if (node->inputs_[i] != value) continue;
              const Use use{node.get(), i};
              if (std::find(value->uses_.begin(), value->uses_.end(), use) == value->uses_.end()) {
                readers += (readers.empty() ? "" : ", ") + node->describe() + " input #" + std::to_string(i);
              }
            }
          }
        }
      }
      problems.push_back(labelText() + ": " + std::to_string(facts.expectedUses) +
                         " node inputs read it but its use list has " + std::to_string(valid) + " entries" +
                         (readers.empty() ? "" : " (missing: " + readers + ")"));
    }

    if (value->graphOutputCount_ != facts.expectedOutputs) {
      problems.push_back(labelText() + ": its graph-output counter is " + std::to_string(value->graphOutputCount_) +
                         " but it appears " + std::to_string(facts.expectedOutputs) + " times in graph output lists");
    }
    if (!value->nestedOutputOf_.empty() || facts.expectedOutputs > 0) {
      std::vector<Graph*> nestedExpected;
      if (auto it = expectedNested.find(value); it != expectedNested.end()) nestedExpected = it->second;
      std::vector<Graph*> nestedActual = value->nestedOutputOf_;
      std::sort(nestedExpected.begin(), nestedExpected.end());
      std::sort(nestedActual.begin(), nestedActual.end());
      if (nestedExpected != nestedActual) {
        problems.push_back(labelText() + ": its record of nested graphs returning it is out of date");
      }
    }
  };
  for (const Graph* graph : graphOrder) {
    for (const Value* input : graph->inputs_) checkValue(input);
    for (const auto& node : graph->nodes_) {
      for (const Value* output : node->outputs_) checkValue(output);
    }
  }
}

Status Graph::verify() const {
  const Graph* top = this;
  while (top->parent_ != nullptr) top = top->parent_;
  std::vector<std::string> problems;
  NameTable::verifyTree(*top, problems);
  if (problems.empty()) return Status::ok();
  std::string message = "graph @" + top->name_ + " is malformed (" + std::to_string(problems.size()) + " problem" +
                        (problems.size() == 1 ? "" : "s") + "):";
  for (const auto& problem : problems) message += "\n  " + problem;
  return Status::internal(message);
}

bool Graph::isTopologicallySorted() const {
  std::unordered_set<const Graph*> subtree;
  auto collect = [&](auto&& self, const Graph* graph) -> void {
    if (!subtree.insert(graph).second) return;
    for (const auto& node : graph->nodes_) {
      for (const auto& [name, attribute] : node->attributes_) {
        const auto* sub = std::get_if<GraphPtr>(&attribute);
        if (sub != nullptr && *sub != nullptr) self(self, sub->get());
      }
    }
  };
  collect(collect, this);

  std::unordered_set<const Value*> defined;
  // Values of graphs outside this subtree (captures of a nested graph) count as defined.
  auto isDefined = [&](const Value* v) {
    return v != nullptr && (defined.count(v) != 0 || subtree.count(v->graph_) == 0);
  };
  auto check = [&](auto&& self, const Graph* graph) -> bool {
    std::vector<const Value*> added;
    auto define = [&](const Value* v) {
      if (defined.insert(v).second) added.push_back(v);
    };
    for (const Value* input : graph->inputs_) define(input);
    bool sorted = true;
    for (const auto& node : graph->nodes_) {
      for (const Value* input : node->inputs_) {
        if (!isDefined(input)) sorted = false;
      }
      for (const auto& [name, attribute] : node->attributes_) {
        const auto* sub = std::get_if<GraphPtr>(&attribute);
        if (sorted && sub != nullptr && *sub != nullptr) sorted = self(self, sub->get());
      }
      if (!sorted) break;
      for (const Value* output : node->outputs_) define(output);
    }
    for (const Value* output : graph->outputs_) {
      if (sorted && !isDefined(output)) sorted = false;
    }
    for (const Value* v : added) defined.erase(v);  // out of scope for the enclosing graph
    return sorted;
  };
  return check(check, this);
}

// ---------------------------------------------------------------------------------------
// Graph: clone / subgraphs
// ---------------------------------------------------------------------------------------
namespace {

using ValueMap = std::unordered_map<const Value*, Value*>;

Value* mapped(const ValueMap& map, Value* value) {
  auto it = map.find(value);
  return it == map.end() ? value : it->second;  // captures from outside the clone
}

void cloneInto(const Graph& source, Graph& target, ValueMap& map) {
  for (Value* input : source.inputs()) map[input] = target.addInput(input->type(), input->name());
  std::vector<Value*> inputs;
  for (Node* node : source.nodes()) {
    inputs.clear();
    for (Value* input : node->inputs()) inputs.push_back(mapped(map, input));
    Node* copy = target.appendNode(node->kind(), inputs, 0);
    for (Value* output : node->outputs()) map[output] = copy->addOutput(output->type(), output->name());
    for (const auto& [name, attribute] : node->attributes()) {
      const auto* sub = std::get_if<GraphPtr>(&attribute);
      if (sub == nullptr || *sub == nullptr) {
        copy->setAttribute(name, attribute);
        continue;
      }
      GraphPtr body = target.createSubgraph((*sub)->name());
      cloneInto(**sub, *body, map);
      copy->setAttribute(name, std::move(body));
    }
    copy->setProvenance(node->provenance());
  }
  for (Value* output : source.outputs()) target.addOutput(mapped(map, output));
}

}  // namespace

std::unique_ptr<Graph> Graph::clone() const {
  auto copy = std::make_unique<Graph>(name_, parent_);
  ValueMap map;
  map.reserve(nodes_.size() + inputs_.size());
  cloneInto(*this, *copy, map);
  return copy;
}

GraphPtr Graph::createSubgraph(std::string name) { return std::make_shared<Graph>(std::move(name), this); }

}  // namespace torchport
