// xdp_jit_dump.cc - writes a loaded BPF program's JIT image and its line
// table, for attributing profiler samples to source lines (xdp_profile.sh).
//   usage: xdp_jit_dump PROG_ID IMAGE.bin LINES.txt
// IMAGE.bin is the raw x86 code (objdump -D -b binary -mi386:x86-64 reads it);
// each line of LINES.txt is "OFFSET FILE:LINE | SOURCE TEXT", OFFSET (hex)
// being where the code of that source line starts in the image.  Both come
// from BPF_OBJ_GET_INFO_BY_FD (jited_prog_insns, jited_line_info, line_info)
// and the program's BTF, which holds the file names and source text.
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s PROG_ID IMAGE.bin LINES.txt\n", argv[0]);
    return 2;
  }
  const int fd = bpf_prog_get_fd_by_id(static_cast<__u32>(std::atoi(argv[1])));
  if (fd < 0) {
    std::perror("bpf_prog_get_fd_by_id");
    return 1;
  }
  // First call: the sizes; second: the arrays.
  bpf_prog_info info{};
  __u32 len = sizeof info;
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) {
    std::perror("bpf_obj_get_info_by_fd");
    return 1;
  }
  std::vector<unsigned char> image(info.jited_prog_len);
  std::vector<bpf_line_info> lines(info.nr_line_info);
  std::vector<__u64> jited_lines(info.nr_jited_line_info);
  std::vector<__u64> ksyms(info.nr_jited_ksyms ? info.nr_jited_ksyms : 1);
  const __u32 btf_id = info.btf_id;
  info = bpf_prog_info{};
  info.jited_prog_len = static_cast<__u32>(image.size());
  info.jited_prog_insns = reinterpret_cast<__u64>(image.data());
  info.nr_line_info = static_cast<__u32>(lines.size());
  info.line_info_rec_size = sizeof(bpf_line_info);
  info.line_info = reinterpret_cast<__u64>(lines.data());
  info.nr_jited_line_info = static_cast<__u32>(jited_lines.size());
  info.jited_line_info_rec_size = sizeof(__u64);
  info.jited_line_info = reinterpret_cast<__u64>(jited_lines.data());
  info.nr_jited_ksyms = static_cast<__u32>(ksyms.size());
  info.jited_ksyms = reinterpret_cast<__u64>(ksyms.data());
  len = sizeof info;
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0 || image.empty()) {
    std::fprintf(stderr, "cannot read the JIT image (not JIT-compiled, or no privilege)\n");
    return 1;
  }
  FILE* out = std::fopen(argv[2], "wb");
  if (!out || std::fwrite(image.data(), 1, image.size(), out) != image.size()) {
    std::perror(argv[2]);
    return 1;
  }
  std::fclose(out);
  btf* b = btf__load_from_kernel_by_id(btf_id);
  out = std::fopen(argv[3], "w");
  if (!out) {
    std::perror(argv[3]);
    return 1;
  }
  // Line addresses are kernel addresses; the first symbol is the image start
  // (a program with subprograms has one symbol each, laid out in order).
  for (size_t i = 0; i < jited_lines.size() && i < lines.size(); i++) {
    const char* file = b ? btf__name_by_offset(b, lines[i].file_name_off) : nullptr;
    const char* text = b ? btf__name_by_offset(b, lines[i].line_off) : nullptr;
    const char* slash = file ? std::strrchr(file, '/') : nullptr;
    std::fprintf(out, "%llx %s:%u | %s\n",
                 static_cast<unsigned long long>(jited_lines[i] - ksyms[0]),
                 slash ? slash + 1 : (file ? file : "?"), BPF_LINE_INFO_LINE_NUM(lines[i].line_col),
                 text ? text : "");
  }
  std::fclose(out);
  btf__free(b);
  std::printf("%zu bytes of code, %zu lines\n", image.size(), jited_lines.size());
  return 0;
}
