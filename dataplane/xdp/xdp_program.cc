// xdp_program.cc - kp::xdp::XdpProgram: skeleton lifecycle, pinning,
// attach/replace/detach and the CPUMAP spreading set-up.
#include "dataplane/xdp/xdp_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "bpf/kiteplane.skel.h"

namespace kp::xdp {
namespace {

std::string ErrText(int err) { return std::strerror(err < 0 ? -err : err); }

bool IsBpffs(const char* path) {
  struct statfs st {};
  return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

}  // namespace

absl::Status EnsureBpffsDir(const std::string& dir) {
  if (!IsBpffs("/sys/fs/bpf")) {
    mkdir("/sys/fs/bpf", 0700);
    if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("/sys/fs/bpf is not a bpffs and mounting one failed: ", ErrText(errno),
                       " (mount -t bpf bpf /sys/fs/bpf)"));
    }
  }
  // mkdir -p
  for (size_t pos = std::string("/sys/fs/bpf/").size(); pos != std::string::npos;) {
    pos = dir.find('/', pos + 1);
    const std::string part = dir.substr(0, pos);
    if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::InternalError(absl::StrCat("mkdir ", part, ": ", ErrText(errno)));
    }
  }
  return absl::OkStatus();
}

absl::Status SizeMaps(bpf_object* obj, uint32_t nk, uint32_t ns) {
  if (nk < 2 || ns < 1 || ns > KP_MAX_SESSIONS || nk > (1u << 24)) {
    return absl::InvalidArgumentError("max kites must be in [2, 2^24], sessions in [1, 131072]");
  }
  for (const char* name : {"kp_kite_hash", "kp_kites", "kp_kite_seq", "kp_credit"}) {
    bpf_map* m = bpf_object__find_map_by_name(obj, name);
    if (!m) return absl::InternalError(absl::StrCat("object has no map ", name));
    if (int r = bpf_map__set_max_entries(m, nk); r != 0) {
      return absl::InternalError(absl::StrCat("size ", name, ": ", ErrText(r)));
    }
  }
  bpf_map* m = nullptr;
  for (const char* name : {"kp_sessions", "kp_session_seq"}) {
    m = bpf_object__find_map_by_name(obj, name);
    if (!m || bpf_map__set_max_entries(m, ns) != 0) {
      return absl::InternalError(absl::StrCat("size ", name));
    }
  }
  // [cpu][kite] slots; the program's kp_n_cpus / kp_max_kites must match
  // (SetStateLayout on the skeleton's rodata).
  const uint64_t slots = uint64_t{XdpNumCpus()} * nk;
  m = bpf_object__find_map_by_name(obj, "kp_kite_state");
  if (!m || slots > UINT32_MAX || bpf_map__set_max_entries(m, static_cast<uint32_t>(slots)) != 0) {
    return absl::InternalError("size kp_kite_state");
  }
  return absl::OkStatus();
}

XdpMapFds MapFdsOf(const bpf_object* obj) {
  auto fd = [obj](const char* name) {
    const bpf_map* m = bpf_object__find_map_by_name(obj, name);
    return m ? bpf_map__fd(m) : -1;
  };
  XdpMapFds f;
  f.kite_hash = fd("kp_kite_hash");
  f.kite_idx = fd("kp_kite_idx");
  f.kites = fd("kp_kites");
  f.kite_seq = fd("kp_kite_seq");
  f.sessions = fd("kp_sessions");
  f.session_seq = fd("kp_session_seq");
  f.config = fd("kp_config");
  f.cfg = fd("kp_cfg");
  f.cfg_sel = fd("kp_cfg_sel");
  f.credit = fd("kp_credit");
  f.kite_state = fd("kp_kite_state");
  f.globals = fd("kp_globals");
  return f;
}

absl::StatusOr<std::unique_ptr<XdpProgram>> XdpProgram::Open(const XdpProgramOptions& options) {
  std::unique_ptr<XdpProgram> p(new XdpProgram(options));
  p->skel_ = kp_xdp__open();
  if (!p->skel_) return absl::InternalError(absl::StrCat("open XDP object: ", ErrText(errno)));
  kp_xdp* s = p->skel_;
  s->rodata->kp_fixed_now_ns = options.fixed_now_ns;
  SetStateLayout(s->rodata, options.max_kites);
  if (absl::Status st = SizeMaps(s->obj, options.max_kites, options.max_sessions); !st.ok()) {
    return st;
  }
  if (!options.pin_dir.empty()) {
    bpf_map* pinned[] = {s->maps.kp_kite_hash, s->maps.kp_kite_idx, s->maps.kp_kites,
                         s->maps.kp_sessions,
                         s->maps.kp_config,    s->maps.kp_kite_state, s->maps.kp_credit,
                         s->maps.kp_globals,
                         s->maps.kp_cpumap,    s->maps.kp_cpus,    s->maps.kp_kite_seq,
                         s->maps.kp_session_seq, s->maps.kp_cfg,  s->maps.kp_cfg_sel};
    for (bpf_map* m : pinned) {
      const std::string path = options.pin_dir + "/" + bpf_map__name(m);
      if (int r = bpf_map__set_pin_path(m, path.c_str()); r != 0) {
        return absl::InternalError(absl::StrCat("pin path ", path, ": ", ErrText(r)));
      }
    }
  }
  return p;
}

XdpProgram::~XdpProgram() {
  Detach();
  if (skel_) kp_xdp__destroy(skel_);
}

absl::Status XdpProgram::Load() {
  if (int r = kp_xdp__load(skel_); r != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "load XDP program: ", ErrText(r),
        " (verifier log above; with pinned maps of another size, remove ", options_.pin_dir,
        " or start with the same --max-kites)"));
  }
  return absl::OkStatus();
}

XdpMapFds XdpProgram::maps() const { return MapFdsOf(skel_->obj); }

int XdpProgram::main_prog_fd() const { return bpf_program__fd(skel_->progs.kp_xdp_main); }

absl::Status XdpProgram::SetupCpumap(std::span<const uint32_t> cpus) {
  const int nproc = libbpf_num_possible_cpus();
  if (cpus.size() > KP_MAX_WORKERS) return absl::InvalidArgumentError("too many CPUs in --cpumap");
  for (uint32_t i = 0; i < cpus.size(); i++) {
    if (static_cast<int>(cpus[i]) >= nproc || cpus[i] >= KP_MAX_WORKERS) {
      return absl::InvalidArgumentError(absl::StrCat("--cpumap: no CPU ", cpus[i]));
    }
    bpf_cpumap_val v{};
    v.qsize = 2048;
    v.bpf_prog.fd = bpf_program__fd(skel_->progs.kp_xdp_cpumap);
    uint32_t cpu = cpus[i];
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.kp_cpumap), &cpu, &v, BPF_ANY) != 0) {
      return absl::InternalError(absl::StrCat("cpumap entry ", cpu, ": ", ErrText(errno)));
    }
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.kp_cpus), &i, &cpu, BPF_ANY) != 0) {
      return absl::InternalError(absl::StrCat("cpu list: ", ErrText(errno)));
    }
  }
  // kp_cpus slot KP_MAX_WORKERS holds the count (bpf/maps.h).
  uint32_t key = KP_MAX_WORKERS, n = static_cast<uint32_t>(cpus.size());
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.kp_cpus), &key, &n, BPF_ANY) != 0) {
    return absl::InternalError(absl::StrCat("cpu count: ", ErrText(errno)));
  }
  return absl::OkStatus();
}

absl::Status XdpProgram::Attach(const std::string& ifname, XdpMode mode, bool replace,
                                std::span<const uint32_t> cpus) {
  const int ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (ifindex == 0) return absl::NotFoundError(absl::StrCat("no interface ", ifname));
  int prog_fd = main_prog_fd();
  if (!cpus.empty()) {
    if (absl::Status st = SetupCpumap(cpus); !st.ok()) return st;
    prog_fd = bpf_program__fd(skel_->progs.kp_xdp_spread);
  }
  const uint32_t mode_flag = mode == XdpMode::kNative ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
  uint32_t cur_id = 0;
  if (bpf_xdp_query_id(ifindex, mode_flag, &cur_id) != 0) cur_id = 0;
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
  uint32_t flags = mode_flag;
  int old_fd = -1;
  if (cur_id != 0) {
    if (!replace) {
      return absl::AlreadyExistsError(absl::StrCat(
          "an XDP program (id ", cur_id, ") is attached to ", ifname, ": use --replace"));
    }
    old_fd = bpf_prog_get_fd_by_id(cur_id);
    if (old_fd < 0) return absl::InternalError(absl::StrCat("old program: ", ErrText(errno)));
    opts.old_prog_fd = old_fd;
    flags |= XDP_FLAGS_REPLACE;
  } else {
    flags |= XDP_FLAGS_UPDATE_IF_NOEXIST;
  }
  const int r = bpf_xdp_attach(ifindex, prog_fd, flags, &opts);
  if (old_fd >= 0) close(old_fd);
  if (r != 0) {
    return absl::InternalError(absl::StrCat("attach XDP to ", ifname, ": ", ErrText(r),
                                            mode == XdpMode::kNative
                                                ? " (driver without native XDP? try --xdp-mode generic)"
                                                : ""));
  }
  ifindex_ = ifindex;
  attach_flags_ = mode_flag;
  attached_fd_ = prog_fd;
  return absl::OkStatus();
}

void XdpProgram::Detach() {
  if (ifindex_ == 0) return;
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = attached_fd_);
  // With REPLACE and our fd as the expected old program, this is a no-op
  // when a successor has replaced us.
  bpf_xdp_detach(ifindex_, attach_flags_ | XDP_FLAGS_REPLACE, &opts);
  ifindex_ = 0;
}

}  // namespace kp::xdp
