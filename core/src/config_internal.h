// Private helpers shared by options.cpp, pipeline_yaml.cpp, pipeline_text.cpp and
// pipeline_validate.cpp: "did you mean" suggestions and option validation with a custom
// subject ("step 'x'" vs "input"). Not installed, not part of the SDK.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "torchport/host/pipeline.h"
#include "torchport/options.h"

namespace torchport::detail {

// A location is known when it names a file/flag or a line.
inline bool isKnown(const SourceLocation& where) { return where.line > 0 || !where.file.empty(); }
// `primary` when known, else `fallback`.
inline const SourceLocation& knownOr(const SourceLocation& primary, const SourceLocation& fallback) {
  return isKnown(primary) ? primary : fallback;
}
// "file:line:col: " when known, else "" (messages then start with their subject).
inline std::string locationPrefix(const SourceLocation& where) {
  return isKnown(where) ? where.toString() + ": " : std::string();
}

// Damerau (optimal string alignment) distance, case-insensitive.
size_t editDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` if it is plausibly a typo of it, else "".
std::string closestMatch(std::string_view word, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" or "".
std::string didYouMeanSuffix(std::string_view word, const std::vector<std::string>& candidates);

// "a, b, c"
std::string joinNames(const std::vector<std::string>& names, std::string_view separator = ", ");

// Like validateOptions, but problems read "<where>: <subject>: option 'k' ..." and are
// appended to `problems` (one line each) instead of being returned.
Options validateOptionsInto(std::string_view subject, const std::vector<OptionSpec>& specs,
                            const OptionValue& given, const SourceLocation& fallbackWhere,
                            std::vector<std::string>& problems);

// Types an unquoted scalar the way YAML's core schema does: true/false -> bool,
// null/~/"" -> null, integer literal -> int (out of int64 range -> float), float literal
// (incl. .inf/.nan) -> float, anything else -> string.
OptionValue::Data parsePlainScalar(std::string_view text);

// Characters allowed in step names, in both the YAML and the text grammar.
bool isStepNameChar(char c);

// parsePipelineText with positions offset so that text[0] is at `origin` (used for
// pipeline strings embedded in a YAML file).
Expected<std::vector<PipelineStep>> parsePipelineTextAt(std::string_view text, const SourceLocation& origin);

// Joins problem lines into one Status::input (ok when empty).
Status problemsToStatus(const std::vector<std::string>& problems);

}  // namespace torchport::detail
