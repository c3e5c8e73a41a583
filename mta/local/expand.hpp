// NAME
//   local/expand - $name expansion of forward_path, luser_relay,
//   mailbox_command and command_execution_directory
// SYNOPSIS
//   auto r = local::local_expand("$home/.forward${recipient_delimiter}${extension}", lookup, filter);
// DESCRIPTION
//   Postfix's mac_expand() as local(8) uses it: the names are the recipient's
//   attributes, not main.cf parameters:
//     user       recipient user name (local part without extension)
//     home shell the user's home directory and login shell
//     recipient  the full recipient address
//     local      the whole local part (also "mailbox")
//     domain     the domain
//     extension  the address extension
//     recipient_delimiter  the delimiter this address used
//   Forms: $name ${name} $(name) ${name?text} ${name:text}
//   ${name?{text1}:{text2}} and $$. A name whose value is unknown (no
//   extension, no home directory) is "undefined": ${name?..} and ${name:..}
//   treat it as empty, a plain $name marks the whole result undefined (the
//   caller then skips that forward_path entry, as Postfix does).
//   Characters of substituted values that are not in `filter` become '_'
//   (forward_expansion_filter, command_expansion_filter); literal text is
//   kept.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace mta::local {

struct Expansion {
  std::string text;
  bool undefined = false;          // a plain $name had no value
  bool error = false;              // syntax error (unbalanced braces)
  bool extension_matched = false;  // $extension was used with a value
};

using AttrLookup = std::function<std::optional<std::string>(std::string_view name)>;

Expansion local_expand(std::string_view pattern, const AttrLookup& lookup, std::string_view filter);

}  // namespace mta::local
